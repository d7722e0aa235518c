/// Helpers shared by the test files.
module CropCat.Tests.TestUtil

open System
open System.IO
open TorchSharp
open CropCat.Runtime

/// Loads libtorch once and pins the CPU so tests are device-independent.
let init () =
    NativeRuntime.EnsureLoaded()
    Devices.Default <- torch.CPU

/// Current resident set size of this process, in MiB (Linux /proc; NaN elsewhere).
let rssMiB () = CropCat.Bench.Machine.RssMiB()

/// A random NCHW tensor.
let randn (n: int) (c: int) (h: int) (w: int) =
    torch.randn ([| int64 n; int64 c; int64 h; int64 w |])

/// The (C, H, W) of an NCHW tensor.
let chw (t: torch.Tensor) =
    int t.shape.[1], int t.shape.[2], int t.shape.[3]

/// Finalizes the tensor handles a test left to the garbage collector now, so that they are not
/// freed later in the middle of another test that counts live tensors (Tensor.TotalCount).
let settle () =
    GC.Collect()
    GC.WaitForPendingFinalizers()
    GC.Collect()

/// The committed folder `Tests/<folder>` (e.g. "golden", "fixtures/images"), recognised by the file `marker`
/// in it, found above the test program's folder or else above the working directory.
let committedDir (folder: string) (marker: string) =
    let parts = Array.append [| "Tests" |] (folder.Split '/')

    let rec up (d: DirectoryInfo) =
        if isNull d then
            failwith $"Tests/{folder} not found above the test program or the working directory"
        else
            let p = Path.Combine(Array.append [| d.FullName |] parts)

            if File.Exists(Path.Combine(p, marker)) then
                p
            else
                up d.Parent

    try
        up (DirectoryInfo AppContext.BaseDirectory)
    with _ ->
        up (DirectoryInfo Environment.CurrentDirectory)

/// A fresh, empty folder under the system's temp directory.
let tempDir () =
    let d =
        Path.Combine(Path.GetTempPath(), "cropcat-tests-" + Guid.NewGuid().ToString("N"))

    Directory.CreateDirectory d |> ignore
    d

/// The message of the `'E` that `f` throws; fails the test when it throws nothing.
let messageOf<'E when 'E :> exn> (f: unit -> unit) =
    try
        f ()
        Expecto.Tests.failtest $"expected {typeof<'E>.Name}"
    with :? 'E as e ->
        e.Message

/// Every parameter's name and values in logical (N, C, H, W) order, whatever its strides: data<T>()
/// reads storage order, which differs for channels-last weights.
let parameterValues (net: CropCat.Nets.Network) =
    net.named_parameters ()
    |> Seq.map (fun struct (n, p) -> n, p.detach().cpu().contiguous().data<float32>().ToArray())
    |> List.ofSeq

/// A dataset folder of `n` synthetic `size` x `size` cell images (seeds `seed`, `seed` + 1, ...) with 0/255 masks.
let syntheticFolder (seed: int) (n: int) (size: int) =
    let d = tempDir ()

    let o =
        CropCat.Data.SyntheticCellsOptions(Height = size, Width = size, MinRadius = 6.0, MaxRadius = 12.0)

    CropCat.Data.FolderDataset.Save(
        d,
        Seq.init n (fun i -> CropCat.Data.SyntheticCells.Generate(seed + i, o)),
        CropCat.Data.LabelSchema.Binary255
    )

    d

/// The tests' own run-length decoder, independent of CropCat's: "start length ..." pairs, 1-indexed; pixel k
/// (0-based) of the code is row-major index k, or for column-major (top to bottom, then left to right) row k % h,
/// column k / h.
let decodeRle (rle: string) (h: int) (w: int) (columnMajor: bool) =
    let mask = Array.zeroCreate (h * w)
    let numbers = rle.Split(' ', StringSplitOptions.RemoveEmptyEntries) |> Array.map int

    for p in 0..2 .. numbers.Length - 1 do
        for k in numbers[p] - 1 .. numbers[p] + numbers[p + 1] - 2 do
            mask[if columnMajor then (k % h) * w + k / h else k] <- true

    mask
