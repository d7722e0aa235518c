using System.Collections.Generic;
using System.Linq;

namespace CropCat.Architecture;

/// <summary>
/// Names every node of a description from its structure alone. A skip opens a new frame one level
/// deeper. Inside the frame at depth d (the top is depth 0), looking through nested sequences but not
/// into skips:
/// - a skip is "level d+1 / merge" (an attention gate's scope is att{d+1}); blocks before the first skip
///   are "level d+1 / enc" (scope enc{d+1}), blocks after it "level d+1 / dec" (scope dec{d+1});
/// - in a frame without a skip, blocks are "bottom" (or "block" at the top);
/// - down and up steps belong to the level whose skip body they are in: "level d / down",
///   "level d / up" (scope dec{d}, like the decoder block of that level); "down"/"up" at the top;
/// - the head is "head"; sequences are "net" at the top and "level d / body" inside.
/// On the U-Net form this gives the names of the paper's layers (enc1 ... bottom ... dec1, head). A name
/// used twice is numbered from the second use on ("level 1 / dec 2", scope dec1_2), so names are unique.
/// </summary>
public static class Naming
{
    /// <summary>Names every node of <paramref name="spec"/>.</summary>
    public static Named Name(Spec spec)
    {
        var used = new HashSet<string>();
        return Frame(spec, 0, used);
    }

    private static (string Path, string Scope) Unique(HashSet<string> used, string path, string scope)
    {
        if (used.Add(path)) return (path, scope);
        var k = 2;
        while (used.Contains($"{path} {k}")) k++;
        used.Add($"{path} {k}");
        return ($"{path} {k}", scope.Length == 0 ? "" : $"{scope}_{k}");
    }

    private static IEnumerable<Spec> Flatten(Spec s) =>
        s.Role == SpecRole.Sequence ? s.Children.SelectMany(Flatten) : [s];

    private static Named Frame(Spec content, int depth, HashSet<string> used)
    {
        var items = Flatten(content).ToList();
        var firstSkip = items.FindIndex(s => s.Role == SpecRole.Skip);
        var position = 0;
        string Level(int d) => $"level {d}";

        Named Walk(Spec spec)
        {
            if (spec.Role == SpecRole.Sequence)
            {
                var path = depth == 0 ? "net" : $"{Level(depth)} / body";
                return new Named(spec, path, "", spec.Children.Select(Walk).ToList());
            }
            var i = position++;
            switch (spec.Role)
            {
                case SpecRole.Block:
                    {
                        var (p, s) = firstSkip >= 0
                            ? i < firstSkip ? ($"{Level(depth + 1)} / enc", $"enc{depth + 1}") : ($"{Level(depth + 1)} / dec", $"dec{depth + 1}")
                            : depth == 0 ? ("block", "block") : ("bottom", "bottom");
                        var (path, scope) = Unique(used, p, s);
                        return new Named(spec, path, scope, []);
                    }
                case SpecRole.Down:
                    return new Named(spec, Unique(used, depth == 0 ? "down" : $"{Level(depth)} / down", "").Path, "", []);
                case SpecRole.Up:
                    {
                        var (path, scope) = depth == 0 ? Unique(used, "up", "up") : Unique(used, $"{Level(depth)} / up", $"dec{depth}");
                        return new Named(spec, path, scope, []);
                    }
                case SpecRole.Head:
                    {
                        var (path, scope) = Unique(used, "head", "head");
                        return new Named(spec, path, scope, []);
                    }
                case SpecRole.Skip:
                    {
                        var (path, scope) = Unique(used, $"{Level(depth + 1)} / merge", $"att{depth + 1}");
                        return new Named(spec, path, scope, spec.Children.Select(c => Frame(c, depth + 1, used)).ToList());
                    }
                default:
                    throw new System.InvalidOperationException($"unknown role {spec.Role}");
            }
        }

        return Walk(content);
    }
}
