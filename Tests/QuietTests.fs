/// libtorch must not flood stderr: a child process runs small batch-1 convolutions (the case that
/// made libtorch log "Could not initialize NNPACK!" on every call on AMD Zen 5) and its stderr is read.
module CropCat.Tests.QuietTests

open System
open System.Diagnostics
open System.Text.RegularExpressions
open Expecto
open TorchSharp
open CropCat.Runtime
open CropCat.Nets
open CropCat.Architecture

/// The argument that makes the test program run `childForward` instead of the tests.
let childFlag = "--child-small-forward"

/// What the child does: a few batch-1 forwards of a small net, NNPACK left as CropCat sets it
/// (or switched back on with "nnpack-on", to show the check sees the flood where the CPU causes it).
let childForward (args: string list) =
    NativeRuntime.EnsureLoaded()

    if List.contains "nnpack-on" args then
        LibTorchQuiet.SetNnpack true |> ignore

    use net = UNet.Create(UNetOptions(Widths = [| 4; 8 |], Classes = 2))
    net.eval () |> ignore

    for _ in 1..3 do
        use scope = torch.NewDisposeScope()
        use _ = torch.no_grad ()
        net.forward (torch.rand (1L, 1L, 44L, 44L)) |> ignore

    printfn "child done"
    0

/// c10's log lines start like "[W1201 19:59:27.748758615 NNPACK.cpp:56]".
let private libtorchLine = Regex(@"^\[[WEF]\d{4} |NNPACK", RegexOptions.Multiline)

/// Runs the test program itself as a child with `childFlag`; returns (exit code, stdout, stderr).
let private runChild (extra: string list) =
    let self = Reflection.Assembly.GetEntryAssembly().Location
    let host = Environment.ProcessPath

    let psi =
        if IO.Path.GetFileNameWithoutExtension(host) = "dotnet" then
            ProcessStartInfo(host, [ self; childFlag ] @ extra)
        else
            ProcessStartInfo(host, childFlag :: extra)

    psi.RedirectStandardError <- true
    psi.RedirectStandardOutput <- true
    use p = Process.Start psi
    let err = p.StandardError.ReadToEndAsync()
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()
    p.ExitCode, out, err.Result

[<Tests>]
let tests =
    testList "Quiet libtorch" [
        test "CropCat switches NNPACK off when it loads libtorch" {
            TestUtil.init ()
            Expect.equal LibTorchQuiet.NnpackEnabled (Nullable false) "NNPACK off after NativeRuntime.EnsureLoaded"
        }

        test "a small batch-1 forward writes no libtorch warning to stderr" {
            let code, out, err = runChild []
            Expect.equal code 0 $"child exit code (stderr: {err})"
            Expect.stringContains out "child done" "the child ran its forwards"
            let hits = libtorchLine.Matches err
            Expect.equal hits.Count 0 $"libtorch lines on stderr: {err}"
        }

        test "with NNPACK back on, the same child is loud exactly where the CPU lacks NNPACK" {
            // Shows that the check above can see the flood: on CPUs NNPACK supports there is none to see.
            let code, _, err = runChild [ "nnpack-on" ]
            Expect.equal code 0 "child exit code"

            if err.Contains "Unsupported hardware" then
                Expect.isGreaterThan (libtorchLine.Matches err).Count 0 "the flood is recognised"
            else
                Expect.isFalse (err.Contains "NNPACK") $"no NNPACK line unless unsupported: {err}"
        }
    ]
