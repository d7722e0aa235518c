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
