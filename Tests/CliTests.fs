/// The `cropcat` command line in-process: Program.main with captured stdout/stderr, its exit codes
/// (0 ok, 1 a size the net cannot take, 2 bad arguments or files, 5 an input skipped) and its output.
module CropCat.Tests.CliTests

open System
open System.IO
open Expecto
open CropCat.Data
open CropCat.Imaging
open CropCat.IO
open CropCat.Nets
open CropCat.Tests.TestUtil

/// Runs `cropcat args` in this process; returns (exit code, stdout, stderr).
let cropcat (args: string list) =
    let out, err = new StringWriter(), new StringWriter()
    let oldOut, oldErr = Console.Out, Console.Error
    Console.SetOut out
    Console.SetError err

    let code =
        try
            CropCat.Cli.Program.main (Array.ofList args)
        finally
            Console.SetOut oldOut
            Console.SetError oldErr

    code, out.ToString(), err.ToString()

/// A dataset folder of `n` synthetic 100 x 100 cell images with 0/255 masks.
let private dataset n = syntheticFolder 700 n 100

/// The checkpoint of a tiny net (widths 4, 8) trained one step on `data` by `cropcat train`.
let trainTiny (data: string) =
    let out = tempDir ()

    let code, _, err =
        cropcat [
            "train"
            "--data"
            data
            "--out"
            out
            "--widths"
            "4,8"
            "--max-steps"
            "1"
            "--threads"
            "1"
        ]

    if code <> 0 then
        failwith $"cropcat train failed ({code}): {err}"

    Path.Combine(out, "model.safetensors")

/// Every tensor of a checkpoint's network state, by name.
let private modelState (checkpoint: string) =
    let struct (tensors, _) = Safetensors.Read checkpoint

    tensors
    |> Seq.filter (fun kv -> kv.Key.StartsWith "model.")
    |> Seq.map (fun kv -> kv.Key, kv.Value.contiguous().to_type(TorchSharp.torch.ScalarType.Float64).data<float>().ToArray())
    |> List.ofSeq

/// `cropcat train` on a tiny net (100 px tiles, 3 training images): 2 epochs of 3 steps.
let private trainArgs data out = [
    "train"
    "--data"
    data
    "--out"
    out
    "--steps-per-epoch"
    "3"
    "--epochs"
    "2"
    "--threads"
    "1"
]

[<Tests>]
let tests =
    testSequenced
    <| testList "Cli.commands" [
        test "sizes prints the nearest valid size and the output it gives, exit 0" {
            let code, out, _ = cropcat [ "sizes"; "--preset"; "paper"; "--near"; "570" ]
            Expect.equal code 0 "exit code"
            Expect.stringContains out "572" "nearest valid input"
            Expect.stringContains out "388" "its output"
        }

        test "the 3-D U-Net through the CLI: summary 116x132x132 -> 28x44x44, sizes --near, JSON with dims 3" {
            let code, out, _ =
                cropcat [ "summary"; "--preset"; "unet3d"; "--size"; "116x132x132" ]

            Expect.equal code 0 "exit code"
            Expect.stringContains out "Input 116x132x132 -> output 28x44x44x3" "sizes"
            Expect.stringContains out "Total params: 19,073,187" "parameters"

            let code, out, _ =
                cropcat [ "sizes"; "--preset"; "unet3d"; "--near"; "116x130x130" ]

            Expect.equal code 0 "sizes exit code"
            Expect.stringContains out "92 + 8k -> 4 + 8k (output = input - 88)" "per-axis progression"
            Expect.stringContains out "116x130x130 is not valid; nearest valid: 116x132x132 -> output 28x44x44" "nearest"

            let code, out, _ =
                cropcat [ "summary"; "--preset"; "unet3d"; "--size"; "116x132x132"; "--json" ]

            Expect.equal code 0 "json exit code"
            use doc = System.Text.Json.JsonDocument.Parse out
            Expect.equal (doc.RootElement.GetProperty("dims").GetInt32()) 3 "dims"

            Expect.sequenceEqual
                [
                    for e in doc.RootElement.GetProperty("output").EnumerateArray() -> e.GetInt32()
                ]
                [ 3; 28; 44; 44 ]
                "output"

            let code, _, err =
                cropcat [ "summary"; "--preset"; "unet3d"; "--size"; "118x132x132" ]

            Expect.equal code 1 "a size it cannot take"
            Expect.stringContains err "depth 53 is odd; 2x2x2 max-pool needs even sizes" "names the axis"
            let code, _, err = cropcat [ "summary"; "--preset"; "unet3d"; "--size"; "132x132" ]
            Expect.equal code 2 "two sizes for a 3-D net"
            Expect.stringContains err "has 2 axes; this net has 3" "says why"
        }

        test "summary of a size the net cannot take names the layer and the nearest sizes, exit 1" {
            let code, out, err = cropcat [ "summary"; "--preset"; "paper"; "--size"; "573" ]
            Expect.equal code 1 $"exit code (stdout {out})"
            Expect.stringContains err "odd" "why"
            Expect.stringContains err "572" "a nearest valid size"
        }

        test "summary --json prints the paper net's parameter count" {
            let code, out, _ =
                cropcat [ "summary"; "--preset"; "paper"; "--size"; "572"; "--json" ]

            Expect.equal code 0 "exit code"
            Expect.stringContains out "31030658" "parameters"
        }

        test "--version and --help answer on stdout with exit 0" {
            let code, out, _ = cropcat [ "--version" ]
            Expect.equal code 0 "exit code"
            Expect.stringContains out "cropcat 0." "version on stdout"
            Expect.stringContains out "TorchSharp" "libraries named"
            let codeH, outH, errH = cropcat [ "train"; "--help" ]
            Expect.equal codeH 0 "help exit code"
            Expect.stringContains outH "--resume" "help on stdout"
            Expect.equal errH "" "nothing on stderr"
        }

        test "an unknown option or preset is exit 2 with one message" {
            let code, _, err = cropcat [ "summary"; "--bogus" ]
            Expect.equal code 2 "unknown option"
            Expect.stringContains err "bogus" "names it"
            let code2, _, err2 = cropcat [ "summary"; "--preset"; "nope"; "--size"; "572" ]
            Expect.equal code2 2 "unknown preset"
            Expect.stringContains err2 "unknown preset 'nope'" "names it"
        }

        test "train stopped mid-epoch by --max-steps and continued with --resume ends with the uninterrupted run's weights" {
            init ()
            let data = dataset 4
            let whole, part = tempDir (), tempDir ()
            let net = [ "--widths"; "4,8"; "--optimizer"; "adam"; "--seed"; "1" ]
            let code, out, err = cropcat (trainArgs data whole @ net)
            Expect.equal code 0 $"uninterrupted run ({err})"
            Expect.stringContains out "at step 6" "two epochs of three steps"

            // Redirected (a log, CI): epoch lines only, no redrawn "\r" progress piling up into one line.
            if Console.IsErrorRedirected then
                Expect.isFalse (err.Contains '\r') "no carriage returns in a redirected log"
                Expect.stringContains err "epoch 2/2  3 steps" "plain epoch lines"

            let code1, out1, err1 = cropcat (trainArgs data part @ net @ [ "--max-steps"; "4" ])
            Expect.equal code1 0 $"interrupted run ({err1})"
            Expect.stringContains out1 "at step 4" "stopped by the limit"
            let checkpoint = Path.Combine(part, "model.safetensors")
            Expect.equal (Checkpoint.ReadInfo checkpoint).EpochStep 1 "inside epoch 2"

            // Another number of steps per epoch would visit other samples: refused, the checkpoint kept.
            let before = File.ReadAllBytes checkpoint

            let codeBad, _, errBad =
                cropcat [
                    "train"
                    "--data"
                    data
                    "--out"
                    part
                    "--resume"
                    checkpoint
                    "--epochs"
                    "2"
                    "--steps-per-epoch"
                    "2"
                ]

            Expect.equal codeBad 2 "refused"
            Expect.stringContains errBad "steps per epoch: 3 in the checkpoint" "says what differs"
            Expect.equal (File.ReadAllBytes checkpoint) before "checkpoint untouched"

            let code2, out2, err2 = cropcat (trainArgs data part @ [ "--resume"; checkpoint ])
            Expect.equal code2 0 $"resumed run ({err2})"
            Expect.stringContains out2 "at step 6" "the same total"
            Expect.equal (modelState checkpoint) (modelState (Path.Combine(whole, "model.safetensors"))) "same weights"
        }

        test "predict skips a corrupt PNG by name and exits 5; a missing checkpoint is exit 2" {
            init ()
            let data = dataset 2
            let trained = tempDir ()

            let code, _, err =
                cropcat (trainArgs data trained @ [ "--widths"; "4,8"; "--max-steps"; "1" ])

            Expect.equal code 0 $"train ({err})"
            let inputs = tempDir ()

            File.Copy(
                Path.Combine(data, "images", Directory.GetFiles(Path.Combine(data, "images"))[0] |> Path.GetFileName),
                Path.Combine(inputs, "good.png")
            )

            File.WriteAllBytes(Path.Combine(inputs, "broken.png"), [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 1uy; 2uy |])
            let outDir = tempDir ()
            let model = Path.Combine(trained, "model.safetensors")

            let code5, _, err5 =
                cropcat [ "predict"; "--model"; model; "--input"; inputs; "--output"; outDir ]

            Expect.equal code5 5 $"exit code ({err5})"
            Expect.stringContains err5 "broken.png" "names the skipped file"
            Expect.isTrue (File.Exists(Path.Combine(outDir, "good.png"))) "the good image is still written"

            let code2, _, err2 =
                cropcat [
                    "predict"
                    "--model"
                    Path.Combine(trained, "none.safetensors")
                    "--input"
                    inputs
                    "--output"
                    outDir
                ]

            Expect.equal code2 2 "missing checkpoint"
            Expect.stringContains err2 "none.safetensors" "names it"
        }
    ]
