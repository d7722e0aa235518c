/// How the CLI starts itself again for a measuring child process (bench workers, one process per memory probe).
module CropCat.Cli.SelfStart

open System
open System.Diagnostics
open System.IO

/// A ProcessStartInfo that runs this program with `args`, whether it was started as `dotnet cropcat.dll`
/// (then the dll goes first) or as the apphost / installed tool.
let startInfo (args: string) =
    let psi = ProcessStartInfo()

    let exe =
        match Environment.ProcessPath with
        | null -> failwith "cannot find the running program's path to start a child process"
        | e -> e

    let dll =
        match Reflection.Assembly.GetEntryAssembly() with
        | null -> failwith "cannot find the running program's assembly to start a child process"
        | a -> a.Location

    psi.FileName <- exe

    psi.Arguments <-
        if Path.GetFileNameWithoutExtension(exe) = "dotnet" then
            $"\"{dll}\" {args}"
        else
            args

    psi
