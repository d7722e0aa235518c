using CropCat.Architecture;
// The paper's U-Net from C# alone: build it, print its summary, show a refused size, run one tile.
using System;
using CropCat.Nets;
using CropCat.Shapes;
using static TorchSharp.torch;

var net = UNet.Create(UNetOptions.Paper);          // 1 channel in, 2 classes, widths 64..1024, valid convs
Console.WriteLine(Summary.Render(net, 572, 572));  // every layer's output shape and parameters

try { net.Infer(573, 573); }                       // refused before any tensor exists
catch (ShapeException e) { Console.WriteLine($"573 refused: {e.Message}"); }

net.eval();
using (var scope = NewDisposeScope())
using (no_grad())
{
    var logits = net.forward(rand(1, 1, 188, 188)); // 188 is the smallest valid input
    Console.WriteLine($"188x188 -> logits [{string.Join(", ", logits.shape)}]");
}
