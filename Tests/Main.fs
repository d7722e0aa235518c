module CropCat.Tests.Main

open System
open Expecto
open Expecto.Impl

/// Counts from Expecto's summary, kept so the plain line can be printed after Expecto is done.
let mutable private counts = None

/// Expecto's own summary line is not the plain form CI reads: remember the counts so that main
/// can print "N passed, N failed, N skipped" alone on the last line.
let private recordingSummary (printers: TestPrinters) = {
    printers with
        summary =
            fun config summary ->
                async {
                    do! printers.summary config summary
                    counts <- Some(summary.passed.Length, summary.failed.Length + summary.errored.Length, summary.ignored.Length)
                }
}

let private runTests argv =
    // Auto layout choices of this run go to a file of its own, not the user's ~/.cache.
    Environment.SetEnvironmentVariable(
        "CROPCAT_LAYOUT_CACHE",
        IO.Path.Combine(IO.Path.GetTempPath(), $"cropcat-tests-layouts-{Environment.ProcessId}.json")
    )

    let printer = recordingSummary defaultConfig.printer

    // Sequenced: libtorch already uses both cores inside each op, and the memory tests read the
    // process's RSS, which tests running beside them would disturb.
    let code =
        runTestsInAssemblyWithCLIArgs
            [
                CLIArguments.Printer printer
                CLIArguments.Sequenced
                CLIArguments.No_Spinner
                CLIArguments.Colours 0
            ]
            argv

    match counts with
    | Some(passed, failed, skipped) ->
        stdout.Flush()
        stdout.Write(sprintf "\n%d passed, %d failed, %d skipped\n" passed failed skipped)
        stdout.Flush()
    | None -> ()

    code

[<EntryPoint>]
let main argv =
    match List.ofArray argv with
    | flag :: rest when flag = QuietTests.childFlag -> QuietTests.childForward rest
    | _ -> runTests argv
