/// .pt files the restricted unpickler must refuse, written by Debian's PyTorch and Python's pickle
/// (Tests/golden/make_refused.py): one clear message naming the file and what was refused, and
/// nothing in the file ever runs.
module CropCat.Tests.InteropRefusalTests

open System.IO
open Expecto
open CropCat.Interop
open CropCat.Tests.InteropGoldenTests
open CropCat.Tests.TestUtil

/// What make_refused.py's malicious files would create if their pickle ran.
let private marker = "/tmp/cropcat-pickle-was-executed"

/// The refusal of reading golden file `name`: its message, which must name the file.
let private refusal name =
    let path = Path.Combine(goldenDir (), name)

    let message =
        try
            TorchCheckpoint.Read path |> ignore
            failtestf "%s was read, expected a PickleRefusedException" name
        with :? PickleRefusedException as e ->
            e.Message

    Expect.stringContains message path "the message names the file"
    Expect.equal (message.Split('\n').Length) 1 "one line"
    message

[<Tests>]
let tests =
    testSequenced
    <| testList "Interop.Refusals" [
        test "a refused global named by STACK_GLOBAL (protocol 4) is refused, naming it" {
            init ()
            let m = refusal "refused_stack_global.pt"
            Expect.stringContains m "refused pickle global 'datetime.date'" "names the global"
            settle ()
        }

        test "REDUCE of os.system is refused at the global, naming it, and the command never runs" {
            init ()
            File.Delete marker
            let m = refusal "refused_reduce_system.pt"
            // os.system pickles as posix.system on Linux, where the script ran.
            Expect.stringContains m "refused pickle global 'posix.system'" "names the callable"
            Expect.isFalse (File.Exists marker) "the pickled command did not run"
            settle ()
        }

        test "REDUCE of builtins.eval (protocol 4) is refused, naming it, and nothing is evaluated" {
            init ()
            File.Delete marker
            let m = refusal "refused_reduce_eval.pt"
            Expect.stringContains m "refused pickle global 'builtins.eval'" "names the callable"
            Expect.isFalse (File.Exists marker) "the pickled expression did not run"
            settle ()
        }

        test "a whole pickled model (torch.save(model)) is refused with the advice to save model.state_dict()" {
            init ()
            let m = refusal "refused_full_model.pt"
            Expect.stringContains m "'__main__.Tiny'" "names the model's class"
            Expect.stringContains m "whole model (torch.save(model))" "says what the file is"
            Expect.stringContains m "save model.state_dict() instead" "says what to do"
            settle ()
        }

        test "a legacy (pre-1.6, non-zip) torch.save file is refused as such, with what to do" {
            init ()
            let m = refusal "refused_legacy.pt"
            Expect.stringContains m "legacy format" "recognised by its magic number"
            Expect.stringContains m "_use_new_zipfile_serialization=False" "says where it comes from"
            Expect.stringContains m "torch.save(torch.load(path), new_path)" "says how to convert it"
            settle ()
        }
    ]
