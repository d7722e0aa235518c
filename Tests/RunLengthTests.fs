/// CropCat.Data.RunLength: Kaggle's run-length codec in both pixel orders. Round trips over random masks
/// and shapes, the form of the runs, one hand-derived example per competition, and the decoder's refusals.
module CropCat.Tests.RunLengthTests

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open CropCat.Data
open CropCat.Tests.TestUtil

/// A mask case: height, width, order and the row-major pixels.
type MaskCase = {
    Height: int
    Width: int
    Order: PixelOrder
    Pixels: bool[]
}

/// Shapes from 1 x 1 up, 1 x N and N x 1 rows and columns included; masks empty, full, sparse or dense.
let private genMask =
    gen {
        let edge =
            Gen.frequency [ 2, Gen.constant 1; 6, Gen.choose (2, 12); 2, Gen.choose (13, 70) ]

        let! h = edge
        let! w = edge
        let! order = Gen.elements [ PixelOrder.ColumnMajor; PixelOrder.RowMajor ]
        let! density = Gen.elements [ 0.0; 0.05; 0.5; 0.9; 1.0 ]
        let! seed = Gen.choose (0, Int32.MaxValue)
        let rng = Random seed

        return {
            Height = h
            Width = w
            Order = order
            Pixels = Array.init (h * w) (fun _ -> rng.NextDouble() < density)
        }
    }

/// The (start, length) pairs of a code, parsed here rather than by the codec under test.
let private pairs (rle: string) =
    let numbers =
        rle.Split(' ', StringSplitOptions.RemoveEmptyEntries) |> Array.map int64

    Array.chunkBySize 2 numbers |> Array.map (fun p -> p[0], p[1])

let private encode (m: bool[]) h w order =
    RunLength.Encode(ReadOnlySpan<bool>(m), h, w, order)

/// A row-major mask from rows of 0/1 digits ("0110").
let private maskOf (rows: string list) =
    rows |> Seq.concat |> Seq.map (fun c -> c = '1') |> Array.ofSeq

let private propertyConfig = {
    FsCheckConfig.defaultConfig with
        maxTest = 400
}

[<Tests>]
let tests =
    testList "RunLength" [
        testPropertyWithConfig propertyConfig "decode(encode(m)) = m over random masks, sizes and both orders"
        <| Prop.forAll (Arb.fromGen genMask) (fun c ->
            let rle = encode c.Pixels c.Height c.Width c.Order
            let back = RunLength.Decode(rle, c.Height, c.Width, c.Order, "property")

            (back = c.Pixels)
            |> Prop.classify (c.Height = 1 || c.Width = 1) "1 x N or N x 1"
            |> Prop.classify (Array.forall not c.Pixels) "empty"
            |> Prop.classify (Array.forall id c.Pixels) "full"
            |> Prop.label $"%d{c.Height}x%d{c.Width} %A{c.Order}: {rle}")

        testPropertyWithConfig
            propertyConfig
            "encode gives 1-indexed, increasing, non-touching runs inside the image that cover exactly the foreground"
        <| Prop.forAll (Arb.fromGen genMask) (fun c ->
            let runs = pairs (encode c.Pixels c.Height c.Width c.Order)
            let n = int64 (c.Height * c.Width)
            let foreground = c.Pixels |> Array.filter id |> Array.length |> int64

            let separated =
                runs
                |> Array.pairwise
                // A gap of at least one pixel: touching runs would be one run.
                |> Array.forall (fun ((s0, l0), (s1, _)) -> s1 > s0 + l0)

            (runs |> Array.forall (fun (s, l) -> s >= 1L && l >= 1L && s + l - 1L <= n))
            && separated
            && Array.sumBy snd runs = foreground)

        test "every shape's empty and full mask, 1 x N and N x 1 included, in both orders" {
            for h, w in [ 1, 1; 1, 9; 9, 1; 3, 4; 4, 3 ] do
                for order in [ PixelOrder.ColumnMajor; PixelOrder.RowMajor ] do
                    let empty = Array.zeroCreate (h * w)
                    let full = Array.create (h * w) true
                    Expect.equal (encode empty h w order) "" $"{h}x{w} {order}: empty is the empty string"
                    Expect.equal (encode full h w order) $"1 {h * w}" $"{h}x{w} {order}: full is one run"
                    Expect.equal (RunLength.Decode("", h, w, order, "t")) empty "empty decodes"
                    Expect.equal (RunLength.Decode($"1 {h * w}", h, w, order, "t")) full "full decodes"
        }

        test "a 1 x N row is the same code in both orders, an N x 1 column too" {
            let row = maskOf [ "0110111" ]
            Expect.equal (encode row 1 7 PixelOrder.ColumnMajor) "2 2 5 3" "row, column-major"
            Expect.equal (encode row 1 7 PixelOrder.RowMajor) "2 2 5 3" "row, row-major"
            Expect.equal (encode row 7 1 PixelOrder.ColumnMajor) "2 2 5 3" "column, column-major"
            Expect.equal (encode row 7 1 PixelOrder.RowMajor) "2 2 5 3" "column, row-major"
        }

        test "DSB 2018's documented example: '1 3 10 5' is pixels 1-3 and 10-14, numbered top to bottom, then left to right" {
            // 5 x 3 image, column-major numbers:   mask:
            //    1  6 11                          1 0 1
            //    2  7 12                          1 0 1
            //    3  8 13                          1 0 1
            //    4  9 14                          0 0 1
            //    5 10 15                          0 1 0
            // Pixels 1, 2, 3 run down column 0; 10 is the bottom of column 1 and 11..14 continue at the top of column 2.
            let mask = maskOf [ "101"; "101"; "101"; "001"; "010" ]
            Expect.equal (encode mask 5 3 PixelOrder.ColumnMajor) "1 3 10 5" "encode"
            Expect.equal (RunLength.Decode("1 3 10 5", 5, 3, PixelOrder.ColumnMajor, "dsb")) mask "decode"
        }

        test "TGS salt's order (column-major, as Kaggle documents it) on a hand-made 3 x 3 mask" {
            // numbers:   mask:     foreground pixels 1, 2 (column 0) and 8, 9 (column 2): "1 2 8 2"
            //  1 4 7     1 0 0
            //  2 5 8     1 0 1
            //  3 6 9     0 0 1
            let mask = maskOf [ "100"; "101"; "001" ]
            Expect.equal (encode mask 3 3 PixelOrder.ColumnMajor) "1 2 8 2" "encode"
            Expect.equal (RunLength.Decode("1 2 8 2", 3, 3, PixelOrder.ColumnMajor, "tgs")) mask "decode"
            // The same mask row-major would be pixels 1, 4, 6 and 9: a TGS code read the wrong way round differs.
            Expect.equal (encode mask 3 3 PixelOrder.RowMajor) "1 1 4 1 6 1 9 1" "row-major differs"
        }

        test "Carvana's order (row-major, as train_masks.csv and the kernels' mask.flatten() use) on a hand-made 2 x 4 mask" {
            // numbers:   mask:       row-major: pixels 2, 3 then 5..8: "2 2 5 4"
            //  1 2 3 4   0 1 1 0     column-major numbering (1 3 5 7 / 2 4 6 8) would give 2..6 and 8: "2 5 8 1"
            //  5 6 7 8   1 1 1 1
            let mask = maskOf [ "0110"; "1111" ]
            Expect.equal (encode mask 2 4 PixelOrder.RowMajor) "2 2 5 4" "encode"
            Expect.equal (RunLength.Decode("2 2 5 4", 2, 4, PixelOrder.RowMajor, "carvana")) mask "decode"
            Expect.equal (encode mask 2 4 PixelOrder.ColumnMajor) "2 5 8 1" "column-major differs"
        }

        test "the decoder refuses an odd count, a non-number, a zero start, an overlap and a run past the end, naming the source" {
            let refusal rle =
                messageOf<RunLengthException> (fun () -> RunLength.Decode(rle, 3, 3, PixelOrder.ColumnMajor, "train.csv row 7") |> ignore)

            for rle, why in
                [
                    "1 2 5", "3 numbers"
                    "1 x", "\"x\", not a positive integer"
                    "0 2", "\"0\", not a positive integer"
                    "1 4 3 2", "inside or before the previous run"
                    "5 1 2 1", "inside or before the previous run"
                    "8 3", "past the last pixel 9"
                ] do
                let m = refusal rle
                Expect.stringStarts m "train.csv row 7: " $"'{rle}' names the source"
                Expect.stringContains m why $"'{rle}' says why"

            Expect.isTrue (typeof<FormatException>.IsAssignableFrom typeof<RunLengthException>) "a RunLengthException is a FormatException"
        }
    ]
