module CropCat.Tests.Main

open Expecto
open Expecto.Impl

/// Expecto's own summary line is not the plain form CI reads, so print
/// "N passed, N failed, N skipped" alone on a line after it.
let private withPlainSummary (printers: TestPrinters) =
    { printers with
        summary =
            fun config summary ->
                async {
                    do! printers.summary config summary
                    let failed = summary.failed.Length + summary.errored.Length
                    stdout.Flush()
                    printfn "%d passed, %d failed, %d skipped" summary.passed.Length failed summary.ignored.Length
                } }

[<EntryPoint>]
let main argv =
    let config =
        { defaultConfig with
            printer = withPlainSummary defaultConfig.printer }

    runTestsInAssemblyWithCLIArgs [ CLIArguments.Printer config.printer ] argv
