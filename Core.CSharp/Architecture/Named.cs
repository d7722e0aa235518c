using System.Collections.Generic;
using System.Linq;

namespace CropCat.Architecture;

/// <summary>
/// A description node with its names: <see cref="Path"/> is what summaries and errors show
/// ("level 2 / enc"), <see cref="Scope"/> prefixes its parameter names ("enc2.conv1.weight").
/// <see cref="Children"/> are the named forms of <see cref="Spec.Children"/>, in the same order.
/// </summary>
public sealed record Named(Spec Spec, string Path, string Scope, IReadOnlyList<Named> Children)
{
    /// <summary>This node and every node below it, parents before their children, children in order.</summary>
    public IEnumerable<Named> Descendants() => Children.SelectMany(c => c.Descendants()).Prepend(this);
}
