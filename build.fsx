// CropCat build script. Run a target with: dotnet fsi build.fsx -t <Target>
// Targets: Setup, Build, Pack, Consume, Test, Demo, Bench, Format, CheckFormat (see README.md).
// Test runs Setup, Build, Pack (out/feed) and Consume (the packages used from outside the repository) first.
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
    "OnnxRuntime.CSharp/OnnxRuntime.CSharp.csproj"
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

// ---------------------------------------------------------------------------
// Packages: CropCat.Core, CropCat.Dsl (libraries, no libtorch natives) and CropCat.Cli (the `cropcat` dotnet tool,
// which carries libtorch's CPU natives) into the local feed out/feed, at the one version Directory.Build.props sets.
// ---------------------------------------------------------------------------
let feed = Path.Combine(root, "out", "feed")

let packageVersion =
    let props = File.ReadAllText(Path.Combine(root, "Directory.Build.props"))
    let m = Text.RegularExpressions.Regex.Match(props, "<Version>([^<]+)</Version>")

    if not m.Success then
        failwith "Pack: no <Version> in Directory.Build.props"

    m.Groups[1].Value

let packedProjects = [
    "CropCat.Core", "Core.CSharp/Core.CSharp.csproj"
    "CropCat.Dsl", "Dsl.FSharp/Dsl.FSharp.fsproj"
    "CropCat.OnnxRuntime", "OnnxRuntime.CSharp/OnnxRuntime.CSharp.csproj"
    "CropCat.Cli", "Cli/Cli.fsproj"
]

/// The scripts name the packed version; a Pack with another version would leave them resolving an old one.
let checkScriptVersions () =
    for script in Directory.GetFiles(Path.Combine(root, "Examples", "scripts"), "*.fsx") do
        for m in Text.RegularExpressions.Regex.Matches(File.ReadAllText script, "#r \"nuget: (CropCat\\.[A-Za-z]+), ([^\"]+)\"") do
            if m.Groups[2].Value <> packageVersion then
                failwithf
                    "Pack: %s references %s %s, but Directory.Build.props packs %s"
                    script
                    m.Groups[1].Value
                    m.Groups[2].Value
                    packageVersion

Target.create "Pack" (fun _ ->
    checkScriptVersions ()

    if Directory.Exists feed then
        Directory.Delete(feed, true)

    // The NuGet cache keeps a package per id and version: drop CropCat's own, so a repack at the same version is
    // what scripts and consumers get instead of the first one ever restored.
    let cache =
        match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
        | null
        | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
        | dir -> dir

    for id, _ in packedProjects do
        let cached = Path.Combine(cache, id.ToLowerInvariant(), packageVersion)

        if Directory.Exists cached then
            Directory.Delete(cached, true)

    for _, proj in packedProjects do
        run "dotnet" $"pack {proj} -c Release --no-build -o \"{feed}\" --nologo -v q" root

    for file in Directory.GetFiles feed |> Array.sort do
        Trace.log $"Pack: {Path.GetFileName file} {FileInfo(file).Length / 1024L} KiB")

// ---------------------------------------------------------------------------
// Consume: use the packed feed as a stranger would, each step outside the repository in a fresh temporary folder:
// install the tool, run an Examples/scripts script through `#r "nuget:"`, build and run the README's C# example.
// ---------------------------------------------------------------------------

/// Runs a program, returns its exit code and captured standard output (stderr passes through).
let runCapture (program: string) (arguments: string) (dir: string) =
    let result =
        CreateProcess.fromRawCommandLine program arguments
        |> CreateProcess.withWorkingDirectory dir
        |> CreateProcess.redirectOutput
        |> CreateProcess.withOutputEventsNotNull Console.WriteLine Console.Error.WriteLine
        |> Proc.run

    result.ExitCode, result.Result.Output

/// Runs one consumer step, prints PASS/FAIL with its time, and fails the target on FAIL.
let step (name: string) (check: unit -> Result<string, string>) =
    let clock = Diagnostics.Stopwatch.StartNew()

    let outcome =
        try
            check ()
        with e ->
            Error e.Message

    match outcome with
    | Ok detail -> Trace.log $"PASS {name} ({clock.Elapsed.TotalSeconds:F0} s): {detail}"
    | Error why ->
        Trace.traceError $"FAIL {name} ({clock.Elapsed.TotalSeconds:F0} s): {why}"
        failwithf "Consume: %s failed: %s" name why

let freshTemp (name: string) =
    let dir = Path.Combine(Path.GetTempPath(), $"cropcat-{name}-{Guid.NewGuid():N}")
    Directory.CreateDirectory dir |> ignore
    dir

let copyInto (dir: string) (file: string) =
    File.Copy(file, Path.Combine(dir, Path.GetFileName file), true)

/// The README's "C# in ten lines" program, exactly as the README shows it.
let readmeCSharp () =
    let readme = File.ReadAllText(Path.Combine(root, "README.md"))
    let section = readme.IndexOf "## C# in ten lines"
    let start = readme.IndexOf("```csharp\n", section)
    let stop = readme.IndexOf("```", start + 10)

    if section < 0 || start < 0 || stop < 0 then
        failwith "README.md has no ```csharp block under '## C# in ten lines'"

    readme.Substring(start + 10, stop - start - 10)

Target.create "Consume" (fun _ ->
    // Auto layout choices timed here (often beside other work) go to a file of this run's, not the machine's
    // ~/.cache/cropcat/layouts.json, where they would steer every later run on this machine.
    Environment.SetEnvironmentVariable(
        "CROPCAT_LAYOUT_CACHE",
        Path.Combine(Path.GetTempPath(), $"cropcat-consume-layouts-{Diagnostics.Process.GetCurrentProcess().Id}.json")
    )

    step "dotnet tool install CropCat.Cli" (fun () ->
        let tools = freshTemp "tool"

        let code, _ =
            runCapture
                "dotnet"
                $"tool install --tool-path \"{tools}\" --add-source \"{feed}\" --version {packageVersion} CropCat.Cli"
                tools

        let cropcat = Path.Combine(tools, "cropcat")

        if code <> 0 then
            Error $"dotnet tool install exited {code}"
        else
            let code, version = runCapture cropcat "--version" tools

            if code <> 0 || not (version.Contains packageVersion) then
                Error $"'cropcat --version' exited {code} and printed '{version.Trim()}', expected {packageVersion}"
            else
                let code, summary = runCapture cropcat "summary --preset paper" tools

                if code <> 0 || not (summary.Contains "31,030,658" || summary.Contains "31030658") then
                    Error $"'cropcat summary --preset paper' exited {code} without the paper net's 31,030,658 parameters"
                else
                    // One small tiled inference: the tool's own libtorch natives load and compute.
                    let code, bench =
                        runCapture cropcat "bench-tiling --size 256 --whole-size 0 --reps 1 --tile 572 --net reduced" tools

                    if code <> 0 || not (bench.Contains "| tiled | reduced |") then
                        Error $"'cropcat bench-tiling' (one reduced-net tile) exited {code} without its result row"
                    else
                        Ok $"{version.Trim()}; summary printed {summary.Split('\n').Length} lines; one tiled inference ran")

    step "script Examples/scripts/paper.fsx via #r \"nuget:\"" (fun () ->
        // The same layout as the repository (scripts/../../out/feed) so the script and its nuget.config run as committed.
        let top = freshTemp "script"

        let scripts =
            Directory.CreateDirectory(Path.Combine(top, "Examples", "scripts")).FullName

        let localFeed = Directory.CreateDirectory(Path.Combine(top, "out", "feed")).FullName
        copyInto scripts (Path.Combine(root, "Examples", "scripts", "paper.fsx"))
        copyInto scripts (Path.Combine(root, "Examples", "scripts", "nuget.config"))

        for id in [ "CropCat.Core"; "CropCat.Dsl" ] do
            copyInto localFeed (Path.Combine(feed, $"{id}.{packageVersion}.nupkg"))

        let code, output = runCapture "dotnet" "fsi Examples/scripts/paper.fsx" top

        if code <> 0 then
            Error $"dotnet fsi exited {code}"
        elif not (output.Contains "nearest to 500") then
            Error "the script ran but did not print its valid sizes"
        else
            Ok "summary, valid sizes and a forward pass from the packed CropCat.Dsl")

    step "C# console project with CropCat.Core from the feed" (fun () ->
        let dir = freshTemp "csharp"

        let code, _ =
            runCapture "dotnet" "new console --name ReadmeExample --output . --no-restore" dir

        if code <> 0 then
            Error $"dotnet new console exited {code}"
        else
            let csproj = Path.Combine(dir, "ReadmeExample.csproj")

            let references =
                $"""  <ItemGroup>
    <PackageReference Include="CropCat.Core" Version="{packageVersion}" />
    <PackageReference Include="libtorch-cpu-linux-x64" Version="2.10.0" />
  </ItemGroup>
</Project>"""

            File.WriteAllText(csproj, File.ReadAllText(csproj).Replace("</Project>", references))

            File.WriteAllText(
                Path.Combine(dir, "nuget.config"),
                $"""<?xml version="1.0" encoding="utf-8"?>
<configuration><packageSources><add key="cropcat-local-feed" value="{feed}" /></packageSources></configuration>"""
            )

            File.WriteAllText(Path.Combine(dir, "Program.cs"), readmeCSharp ())
            let code, output = runCapture "dotnet" "run -c Release" dir
            let last = output.Trim().Split('\n') |> Array.last

            if code <> 0 then
                Error $"dotnet run exited {code}"
            elif last.Trim() <> "4" then
                Error $"expected the README's last line '4' (188 -> 4), got '{last}'"
            else
                Ok "README's C# example built and printed 188 -> 4"))

"Setup" ==> "Build" ==> "Pack" ==> "Consume" ==> "Test" |> ignore
"Build" ==> "Demo" |> ignore
"Build" ==> "Bench" |> ignore

Target.runOrDefaultWithArguments "Build"
