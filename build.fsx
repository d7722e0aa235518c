// CropCat build script. Run a target with: dotnet fsi build.fsx -t <Target>
// Targets: Setup, Build, Test, Demo, Bench, Format, CheckFormat, Pack (see README.md).
#r "nuget: FSharp.Control.Reactive, 4.4.2" // Fake.Core.Target 6.x asks for >= 5.0.2, which the registry here does not serve
#r "nuget: Fake.Core.Target, 6.2.0"
#r "nuget: Fake.DotNet.Cli, 6.2.0"

open System
open System.IO
open Fake.Core
open Fake.Core.TargetOperators
open Fake.DotNet

let args = fsi.CommandLineArgs |> Array.skip 1 |> List.ofArray

Context.FakeExecutionContext.Create false __SOURCE_FILE__ args
|> Context.RuntimeContext.Fake
|> Context.setExecutionContext

let root = __SOURCE_DIRECTORY__
let solution = Path.Combine(root, "CropCat.slnx")
let config = DotNet.BuildConfiguration.Release

/// Runs a program and fails the target when it exits non-zero.
let run (program: string) (arguments: string) (dir: string) =
    let result =
        CreateProcess.fromRawCommandLine program arguments
        |> CreateProcess.withWorkingDirectory dir
        |> Proc.run

    if result.ExitCode <> 0 then
        failwithf "'%s %s' failed with exit code %d" program arguments result.ExitCode

/// Runs a program and returns its exit code without failing.
let runCode (program: string) (arguments: string) (dir: string) =
    (CreateProcess.fromRawCommandLine program arguments
     |> CreateProcess.withWorkingDirectory dir
     |> Proc.run)
        .ExitCode

// ---------------------------------------------------------------------------
// Native runtime: TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32
// (GCC 13+). Debian 12 ships GCC 12's libstdc++ and TorchSharp then fails with a
// misleading "doesn't contain a reference to libtorch" message. Detect it here.
// ---------------------------------------------------------------------------
let requiredGlibcxx = "GLIBCXX_3.4.32"

let libstdcxxCandidates = [
    "/lib/x86_64-linux-gnu/libstdc++.so.6"
    "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
    "/usr/lib64/libstdc++.so.6"
    "/lib64/libstdc++.so.6"
    "/usr/lib/aarch64-linux-gnu/libstdc++.so.6"
]

let fileContains (path: string) (needle: string) =
    let bytes = File.ReadAllBytes path
    let n = Text.Encoding.ASCII.GetBytes needle
    let span = ReadOnlySpan<byte>(bytes)
    span.IndexOf(ReadOnlySpan<byte>(n)) >= 0

let nativeRuntimeOk () =
    libstdcxxCandidates
    |> List.filter File.Exists
    |> List.exists (fun p -> fileContains p requiredGlibcxx)

let isDebian12 () =
    File.Exists "/etc/os-release"
    && (File.ReadAllText "/etc/os-release").Contains "VERSION_CODENAME=bookworm"

let isRoot () = Environment.UserName = "root"

let fixDebian12 () =
    Trace.log
        "CropCat setup: installing libstdc++6 from Debian 13 (trixie), pinned low, for GLIBCXX_3.4.32; this also upgrades the packages it depends on (listed below before anything changes)"

    let src = "/etc/apt/sources.list.d/debian.sources"

    if not (File.Exists src) then
        failwithf "CropCat setup: expected the apt source file %s to derive the Debian mirror from" src

    // Re-use this machine's own Debian mirror: copy the bookworm stanza, rename the suite.
    let stanzas = (File.ReadAllText src).Replace("\r", "").Split("\n\n")

    let trixie =
        stanzas
        |> Array.tryFind (fun s -> s.Contains "Suites: bookworm bookworm-updates")
        |> Option.map (fun s -> s.Replace("Suites: bookworm bookworm-updates", "Suites: trixie"))

    match trixie with
    | None -> failwithf "CropCat setup: no 'Suites: bookworm bookworm-updates' stanza in %s" src
    | Some stanza ->
        File.WriteAllText("/etc/apt/sources.list.d/trixie.sources", stanza.Trim() + "\n")
        File.WriteAllText("/etc/apt/preferences.d/trixie-low", "Package: *\nPin: release n=trixie\nPin-Priority: 100\n")
        run "apt-get" "update -qq" root

        // Say exactly what will change before changing it: pulling libstdc++6 from trixie also upgrades libc6 (and
        // with it base-files, locales, ...), which a user of this machine should know.
        let plan =
            CreateProcess.fromRawCommandLine "apt-get" "install -s -t trixie libstdc++6"
            |> CreateProcess.setEnvironmentVariable "DEBIAN_FRONTEND" "noninteractive"
            |> CreateProcess.redirectOutput
            |> Proc.run

        let changes =
            plan.Result.Output.Split('\n')
            |> Array.filter (fun l -> l.StartsWith "Inst ")
            |> Array.map (fun l ->
                // "Inst libc6 [2.36-9+deb12u7] (2.41-12 Debian:13.1/stable [amd64]) [...]"
                let parts = l.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                let name = parts[1]

                let old =
                    if parts[2].StartsWith "[" then
                        parts[2].Trim('[', ']')
                    else
                        "not installed"

                let fresh = l.Substring(l.IndexOf '(' + 1).Split(' ')[0]
                $"{name} {old} -> {fresh}")

        Trace.log $"CropCat setup: apt-get will change {changes.Length} package(s):"

        for c in changes do
            Trace.log $"  {c}"

        let code =
            CreateProcess.fromRawCommandLine "apt-get" "install -y -qq -t trixie libstdc++6"
            |> CreateProcess.setEnvironmentVariable "DEBIAN_FRONTEND" "noninteractive"
            |> Proc.run

        if code.ExitCode <> 0 then
            failwith "CropCat setup: apt-get could not install libstdc++6 from trixie"

let ensureNativeRuntime () =
    if OperatingSystem.IsLinux() && not (nativeRuntimeOk ()) then
        if isDebian12 () && isRoot () then
            fixDebian12 ()

            if not (nativeRuntimeOk ()) then
                failwith "CropCat setup: libstdc++ still lacks GLIBCXX_3.4.32 after the Debian 13 install"
        else
            failwithf
                "CropCat setup: this system's C++ runtime (libstdc++.so.6) lacks %s, which TorchSharp 0.107's native library needs.\n  Install libstdc++6 from GCC 13 or newer (Debian 13, Ubuntu 24.04, Fedora 39+ have it), then run this again.\n  On Debian 12 run this set-up as root and it installs it for you."
                requiredGlibcxx

    Trace.log "CropCat setup: native runtime OK"

Target.create "Setup" (fun _ ->
    run "dotnet" "tool restore" root
    ensureNativeRuntime ()
    run "dotnet" "paket restore" root)

Target.create "Build" (fun _ -> run "dotnet" $"build \"{solution}\" -c Release --nologo -v q" root)

let testDll =
    Path.Combine(root, "Tests", "bin", "Release", "net10.0", "CropCat.Tests.dll")

let cliDll = Path.Combine(root, "Cli", "bin", "Release", "net10.0", "cropcat.dll")

Target.create "Test" (fun p ->
    let extra = p.Context.Arguments |> String.concat " "
    run "dotnet" $"\"{testDll}\" {extra}" root)

Target.create "Demo" (fun _ -> run "dotnet" $"\"{cliDll}\" demo --out out/demo" root)

// Arguments after the target go to `cropcat bench` (e.g. -t Bench -- --quick); the tiling bench follows.
Target.create "Bench" (fun p ->
    let extra = p.Context.Arguments |> String.concat " "
    run "dotnet" $"\"{cliDll}\" bench {extra}" root
    run "dotnet" $"\"{cliDll}\" bench-tiling" root)

// Fantomas 7 takes one folder or file per call.
let fsharpSources = [ "Dsl.FSharp"; "Tests"; "Cli"; "Examples"; "build.fsx" ]

let csharpProjects = [
    "Core.CSharp/Core.CSharp.csproj"
    "Bench.CSharp/Bench.CSharp.csproj"
    "Examples/CSharpSummary/CSharpSummary.csproj"
]

Target.create "Format" (fun _ ->
    for src in fsharpSources do
        run "dotnet" $"fantomas {src}" root

    for proj in csharpProjects do
        run "dotnet" $"format whitespace {proj}" root)

Target.create "CheckFormat" (fun _ ->
    for src in fsharpSources do
        run "dotnet" $"fantomas --check {src}" root

    for proj in csharpProjects do
        run "dotnet" $"format whitespace {proj} --verify-no-changes" root)

Target.create "Pack" (fun _ ->
    for proj in [ "Core.CSharp/Core.CSharp.csproj"; "Dsl.FSharp/Dsl.FSharp.fsproj" ] do
        run "dotnet" $"pack {proj} -c Release -o out/packages --nologo" root)

"Setup" ==> "Build" ==> "Test" |> ignore
"Build" ==> "Demo" |> ignore
"Build" ==> "Bench" |> ignore
"Build" ==> "Pack" |> ignore

Target.runOrDefaultWithArguments "Build"
