/// `cropcat predict --shard K/N --resume`: array jobs that split one folder and survive being restarted.
module CropCat.Tests.ShardTests

open System
open System.IO
open Expecto
open FsCheck
open CropCat.Data
open CropCat.Inference
open CropCat.Tests.TestUtil

/// Ten synthetic 64 x 64 images and a tiny net trained one step on them.
let private setup =
    lazy
        (let data = syntheticFolder 40 10 64
         CliTests.trainTiny data, Path.Combine(data, "images"))

let private predict (extra: string list) (out: string) =
    let model, images = setup.Force()

    CliTests.cropcat (
        [
            "predict"
            "--model"
            model
            "--input"
            images
            "--output"
            out
            "--threads"
            "1"
        ]
        @ extra
    )

let private files (folder: string) =
    Directory.GetFiles folder
    |> Array.map Path.GetFileName
    |> Array.sort
    |> List.ofArray

[<Tests>]
let shards =
    testSequenced
    <| testList "Predict.shards" [
        test "three shards write exactly what one unsharded run writes, each file once" {
            init ()
            let whole = tempDir ()
            let code, _, err = predict [] whole
            Expect.equal code 0 err
            let sharded = tempDir ()

            let outputs = [
                for k in 0..2 ->
                    let code, stdout, err = predict [ "--shard"; $"{k}/3" ] sharded
                    Expect.equal code 0 err
                    Expect.stringContains stdout $"shard {k}/3:" "prints a per-shard summary"
                    stdout
            ]

            Expect.equal (files sharded) (files whole) "the union of the shards is the unsharded output"

            for f in files whole do
                Expect.equal
                    (File.ReadAllBytes(Path.Combine(sharded, f)))
                    (File.ReadAllBytes(Path.Combine(whole, f)))
                    $"{f} is the same mask"

            // "N written" per shard, summed, is the number of files: none written twice.
            let written =
                outputs
                |> List.sumBy (fun o ->
                    let i = o.IndexOf " written"
                    let j = o.LastIndexOf(' ', i - 1)
                    int (o[j + 1 .. i - 1]))

            Expect.equal written (files whole).Length "every output written by exactly one shard"
        }

        test "--resume skips what exists and still writes every submission row" {
            init ()
            let out = tempDir ()
            let csv = Path.Combine(tempDir (), "s.csv")
            let code, _, err = predict [ "--shard"; "1/2" ] out
            Expect.equal code 0 err
            let before = files out

            let code, stdout, err =
                predict [ "--resume"; "--rle"; csv; "--rle-format"; "tgs" ] out

            Expect.equal code 0 err
            Expect.stringContains stdout $"{before.Length} already done" "the first shard's outputs are kept"
            Expect.equal (File.ReadAllLines(csv).Length - 1) 10 "a row for every image, done before or now"
        }

        testProperty "shards partition any set of names, and a name's shard does not depend on the others"
        <| fun (names: NonEmptyString list) (n0: PositiveInt) ->
            let n = n0.Get % 7 + 1
            let names = names |> List.map _.Get |> List.distinct

            names
            |> List.forall (fun name ->
                [ for k in 0 .. n - 1 -> Shard(k, n).Contains name ]
                |> List.filter id
                |> List.length = 1)

        test "bad shards are refused" {
            for bad in [ "3/3"; "1"; "a/2"; "0/0"; "-1/2" ] do
                Expect.throwsT<FormatException> (fun () -> Shard.Parse bad |> ignore) bad
        }
    ]
