/// A network as plain data: a small algebra of layer specs that reads left to right.
namespace CropCat.Dsl

open CropCat.Shapes

/// One piece of a network description. Blocks carry only their OUTPUT channels; input channels
/// are inferred by folding the description from the input image onwards. The type has structural
/// equality, so descriptions can be compared, generated and shrunk like any other value.
type Spec =
    /// Two 3x3 convolutions with ReLU (valid: n -> n - 4, same: n -> n), optional batch norm after
    /// each convolution and dropout (probability, 0 for none) after the block.
    | Block of width: int * padding: Padding * batchNorm: bool * dropout: float
    /// 2x2 max-pool with stride 2 (n -> n/2; Strict refuses odd sizes, Floor drops the last row).
    | Down of pool: PoolMode
    /// Up-sampling by two (n -> 2n) to `width` channels: transposed 2x2 convolution or bilinear + 1x1.
    | Up of width: int * mode: UpMode
    /// The 1x1 convolution from features to `classes` class scores.
    | Head of classes: int
    /// y = merge(x, body x): CropConcat centre-crops x to the body's size and concatenates channels.
    | Skip of merge: Merge * body: Spec
    /// The specs in order, each feeding the next.
    | Seq of Spec list

/// A complete description: the channels of the input image and the layers that follow.
type Net = {
    /// Channels of the input image (1 for gray, 3 for RGB).
    InChannels: int
    /// The layers, applied left to right.
    Body: Spec
}

/// Options of the `unet` form (everything but the widths).
type UNetForm = {
    /// Channels of the input image.
    InChannels: int
    /// Classes of the 1x1 head.
    Classes: int
    /// Border treatment of every 3x3 convolution.
    Padding: Padding
    /// Up-sampling of the decoder.
    Up: UpMode
    /// Pooling rule for odd sizes.
    Pool: PoolMode
    /// Batch norm after every 3x3 convolution.
    BatchNorm: bool
    /// Dropout after the bottom block (the end of the contracting path); 0 for none.
    BottomDropout: float
    /// How each skip merges the encoder feature with the decoder's.
    Merge: Merge
}

/// The combinators. `block 64 --> down --> block 128` reads left to right.
[<AutoOpen>]
module Combinators =
    /// A valid-padded (paper) conv block with `width` output channels, no batch norm, no dropout.
    let block width = Block(width, Padding.Valid, false, 0.0)

    /// A zero-padded ("same") conv block with `width` output channels.
    let sameBlock width = Block(width, Padding.Same, false, 0.0)

    /// The paper's 2x2 max-pool that refuses odd sizes.
    let down = Down PoolMode.Strict

    /// A 2x2 transposed-convolution up-step to `width` channels (the paper's up-convolution).
    let up width = Up(width, UpMode.Transposed)

    /// A bilinear x2 up-step followed by a 1x1 convolution to `width` channels.
    let bilinearUp width = Up(width, UpMode.Bilinear)

    /// The 1x1 head with `classes` outputs.
    let head classes = Head classes

    /// The paper's skip merge: centre-crop the skip input to the body's size, then concatenate.
    let cropCat = Merge.CropConcat

    /// Concatenation of equal sizes (padded nets).
    let concat = Merge.Concat

    /// Element-wise sum of equal shapes (residual nets).
    let add = Merge.Add

    /// A skip around `body` that merges with `merge`: y = merge(x, body x).
    let skip merge body = Skip(merge, body)

    /// Sequencing, left to right: `a --> b` runs a, then b. A chain `a --> b --> c` is one flat
    /// Seq [a; b; c]: a Seq on the left is extended, a Seq on the right stays one item, so
    /// `a --> (b --> c)` keeps its grouping. Sequencing is associative, so grouping never changes
    /// what the net computes; it only changes how a free-form description is named (see Naming).
    let (-->) (first: Spec) (next: Spec) =
        match first with
        | Seq items -> Seq(items @ [ next ])
        | _ -> Seq [ first; next ]

    /// Sets the dropout of a block (other specs are returned unchanged).
    let withDropout p spec =
        match spec with
        | Block(w, pad, bn, _) -> Block(w, pad, bn, p)
        | other -> other

    /// Sets batch norm on a block (other specs are returned unchanged).
    let withBatchNorm spec =
        match spec with
        | Block(w, pad, _, d) -> Block(w, pad, true, d)
        | other -> other

/// The U-Net as a fold over levels:
/// `level w inner = block w --> skip merge (down --> inner --> up w) --> block w`.
module UNet =
    /// The paper's options: 1 channel in, 2 classes, valid padding, transposed up, strict pool,
    /// no batch norm, dropout 0.5 at the bottom, crop-and-cat.
    let paperForm = {
        InChannels = 1
        Classes = 2
        Padding = Padding.Valid
        Up = UpMode.Transposed
        Pool = PoolMode.Strict
        BatchNorm = false
        BottomDropout = 0.5
        Merge = Merge.CropConcat
    }

    /// One level around `inner`: encoder block, a skip around (down, inner, up), decoder block.
    let level (form: UNetForm) width inner =
        let b = Block(width, form.Padding, form.BatchNorm, 0.0)
        Seq [ b; Skip(form.Merge, Seq [ Down form.Pool; inner; Up(width, form.Up) ]); b ]

    /// The network for `widths` (top to bottom; the last is the bottom block, so depth = length - 1)
    /// folded into levels, followed by the head. Zero or negative channels are left for
    /// `Inference.check`, which names the layer.
    /// <exception cref="System.ArgumentException">Fewer than two widths (depth 0).</exception>
    let unet (widths: int list) (form: UNetForm) : Net =
        if List.length widths < 2 then
            invalidArg "widths" $"unet needs at least two widths (levels and the bottom, depth >= 1), got %A{widths}: depth 0 has no skip"

        let levels = List.take (List.length widths - 1) widths

        let innermost =
            Block(List.last widths, form.Padding, form.BatchNorm, form.BottomDropout)

        let net = List.foldBack (level form) levels innermost

        {
            InChannels = form.InChannels
            Body = Seq [ net; Head form.Classes ]
        }

/// Ready-made descriptions.
module Presets =
    /// Fig. 1 of the paper: 1 channel in, 2 classes, widths 64..1024, valid convolutions, transposed
    /// up-convolutions, strict pooling, dropout 0.5 after the bottom block. 572 in, 388 out.
    let paper = UNet.unet [ 64; 128; 256; 512; 1024 ] UNet.paperForm

    /// The padded net popular for the Carvana car-masking data: RGB in, 1 class (a binary mask,
    /// trained with a sigmoid), widths 64..1024, same padding, batch norm, bilinear up, plain concat.
    /// Takes any multiple of 16; output size = input size. Not milesial/Pytorch-UNet's bilinear net:
    /// here each up-step is bilinear + a 1x1 convolution and the bottom keeps 1024 channels, so its
    /// checkpoints do not fit (see `milesial`).
    let carvana =
        UNet.unet [ 64; 128; 256; 512; 1024 ] {
            UNet.paperForm with
                InChannels = 3
                Classes = 1
                Padding = Padding.Same
                Up = UpMode.Bilinear
                BatchNorm = true
                BottomDropout = 0.0
                Merge = Merge.Concat
        }

    /// The options of milesial/Pytorch-UNet's `UNet(n_channels=3, n_classes=classes, bilinear=False)`
    /// (widths 64..1024 in `milesial`): DoubleConv = (3x3 conv without bias, batch norm, ReLU) x 2,
    /// 2x2 max-pool, 2x2 transposed up-convolutions, [skip, up] concat, 1x1 head. Its checkpoints load
    /// with `PyTorchWeights.LoadInto` (layout Carvana). Takes multiples of 16 (milesial pads odd sizes,
    /// this net refuses them). milesial's bilinear configuration has decoder blocks that halve the
    /// channels in their second convolution and a parameterless up-step, which the DSL's blocks cannot
    /// say: build it with `CropCat.Nets.MilesialUNet.Create(3, classes, bilinear = true)`.
    let milesialForm classes = {
        UNet.paperForm with
            InChannels = 3
            Classes = classes
            Padding = Padding.Same
            Up = UpMode.Transposed
            BatchNorm = true
            BottomDropout = 0.0
            Merge = Merge.Concat
    }

    /// milesial's transposed net at its widths 64..1024 (see `milesialForm`); `milesial 2` is its
    /// published Carvana model.
    let milesial classes =
        UNet.unet [ 64; 128; 256; 512; 1024 ] (milesialForm classes)

    /// The presets by name, as the CLI offers them ("milesial": its published 2-class configuration).
    let byName = [ "paper", paper; "carvana", carvana; "milesial", milesial 2 ]
