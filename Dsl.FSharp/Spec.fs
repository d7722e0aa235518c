/// Network descriptions in F#: combinators over the core's description records (CropCat.Architecture),
/// so there is one description tree. `block 64 --> down --> block 128` reads left to right.
namespace CropCat.Dsl

open CropCat.Architecture
open CropCat.Layers
open CropCat.Nets
open CropCat.Shapes

/// One piece of a description: the core's `CropCat.Architecture.Spec` (records with value equality).
type Spec = CropCat.Architecture.Spec

/// A complete description: input channels, spatial axes and the body (the core's `NetSpec`).
type Net = NetSpec

/// Why a description refuses: the layer's path and what is wrong (the core's `SpecError`).
type InferError = SpecError

/// F# views of the core's records, for pattern matching.
[<AutoOpen>]
module Patterns =
    /// Matches the description kinds: `Block(width, padding, batchNorm, dropout)`, `Down pool`,
    /// `Up(width, mode)`, `Head classes`, `Skip(merge, body)`, `Seq items`. A block's `Mid` and a skip's
    /// gate are read from the records themselves.
    let (|Block|Down|Up|Head|Skip|Seq|) (spec: Spec) =
        match spec with
        | :? BlockSpec as b -> Block(b.Width, b.Padding, b.BatchNorm, b.Dropout)
        | :? PoolSpec as p -> Down p.Mode
        | :? UpSpec as u -> Up(u.Width, u.Mode)
        | :? HeadSpec as h -> Head h.Classes
        | :? SkipSpec as s -> Skip(s.Merge, s.Body)
        | :? ChainSpec as c -> Seq(List.ofSeq c.Items)
        | other -> invalidArg "spec" $"no F# pattern for {other.GetType().Name}"

/// The combinators. Every one returns the core's `Spec`.
[<AutoOpen>]
module Combinators =
    /// A valid-padded (paper) conv block with `width` output channels, no batch norm, no dropout.
    let block width : Spec = BlockSpec(width)

    /// A zero-padded ("same") conv block with `width` output channels.
    let sameBlock width : Spec = BlockSpec(width, Padding.Same)

    /// A valid block whose first convolution has `mid` channels and the second `width` (the 3-D U-Net's (32, 64)).
    let block2 mid width : Spec =
        BlockSpec(width, Mid = System.Nullable mid)

    /// The paper's 2x2 (3-D: 2x2x2) max-pool that refuses odd sizes.
    let down: Spec = PoolSpec(PoolMode.Strict)

    /// A max-pool that floors odd sizes, as PyTorch's does.
    let floorDown: Spec = PoolSpec(PoolMode.Floor)

    /// A 2x2 transposed-convolution up-step to `width` channels (the paper's up-convolution).
    let up width : Spec = UpSpec(width, UpMode.Transposed)

    /// A bilinear (3-D: trilinear) x2 up-step followed by a 1x1 convolution to `width` channels.
    let bilinearUp width : Spec = UpSpec(width, UpMode.Bilinear)

    /// Bilinear (trilinear) x2 interpolation alone: no parameters, the channels pass (milesial's bilinear net).
    let interpolateUp: Spec = UpSpec(0, UpMode.Interpolate)

    /// The 1x1 head with `classes` outputs.
    let head classes : Spec = HeadSpec(classes)

    /// The paper's skip merge: centre-crop the skip input to the body's size, then concatenate.
    let cropCat = Merge.CropConcat

    /// Concatenation of equal sizes (padded nets).
    let concat = Merge.Concat

    /// milesial's merge: zero-pad the body to the skip input's size, then concatenate.
    let padCat = Merge.PadConcat

    /// Element-wise sum of equal shapes (residual nets).
    let add = Merge.Add

    /// A skip around `body` that merges with `merge`: y = merge(x, body x).
    let skip merge (body: Spec) : Spec = SkipSpec(merge, body)

    /// A skip whose input is weighed by an attention gate with `channels` intermediate channels
    /// (Attention U-Net) before the merge (crop-and-cat or concat).
    let gatedSkip channels merge (body: Spec) : Spec =
        SkipSpec(merge, body, GateSpec(channels))

    /// Sequencing, left to right: `a --> b` runs a, then b. A chain `a --> b --> c` is one flat
    /// chain [a; b; c]: a chain on the left is extended, a chain on the right stays one item, so
    /// `a --> (b --> c)` keeps its grouping. Grouping never changes what the net computes or its names.
    let (-->) (first: Spec) (next: Spec) : Spec =
        match first with
        | :? ChainSpec as c -> ChainSpec(Array.append (Array.ofSeq c.Items) [| next |])
        | _ -> ChainSpec([| first; next |])

    /// The specs in order, as one chain.
    let chain (items: Spec list) : Spec = ChainSpec(Array.ofList items)

    /// Sets the dropout of a block (other specs are returned unchanged).
    let withDropout p (spec: Spec) : Spec =
        match spec with
        | :? BlockSpec as b -> b.With(dropout = p)
        | other -> other

    /// Sets batch norm on a block (other specs are returned unchanged).
    let withBatchNorm (spec: Spec) : Spec =
        match spec with
        | :? BlockSpec as b -> b.With(batchNorm = true)
        | other -> other

    /// Sets instance norm (affine, no running statistics: nnU-Net's) on a block (other specs are returned unchanged).
    let withInstanceNorm (spec: Spec) : Spec =
        match spec with
        | :? BlockSpec as b -> b.With(batchNorm = false, norm = BlockNorm.Instance)
        | other -> other

    /// Sets group norm with `groups` groups on a block (other specs are returned unchanged).
    let withGroupNorm (groups: int) (spec: Spec) : Spec =
        match spec with
        | :? BlockSpec as b -> b.With(batchNorm = false, norm = BlockNorm.Group, groups = groups)
        | other -> other

    /// Sets the activation of a block (other specs are returned unchanged); leaky ReLU keeps the block's slope (0.01).
    let withActivation (activation: BlockActivation) (spec: Spec) : Spec =
        match spec with
        | :? BlockSpec as b -> b.With(activation = activation)
        | other -> other

    /// A 2-D description with `inChannels` input channels.
    let net inChannels (body: Spec) : Net = NetSpec(inChannels, body)

    /// A 3-D (volume) description with `inChannels` input channels.
    let net3d inChannels (body: Spec) : Net = NetSpec(inChannels, body, 3)

/// The U-Net as a fold over levels:
/// `level w inner = block w --> skip merge (down --> inner --> up w) --> block w`. The options are the
/// core's `UNetOptions` (one options type for C# and F#).
module UNet =
    /// The paper's options: 1 channel in, 2 classes, valid padding, transposed up, strict pool,
    /// no batch norm, dropout 0.5 at the bottom, crop-and-cat.
    let paperForm = UNetOptions.Paper

    /// One level around `inner`: encoder block, a skip around (down, inner, up), decoder block.
    let level (form: UNetOptions) width (inner: Spec) : Spec =
        let b =
            BlockSpec(
                width,
                form.Padding,
                form.BatchNorm,
                0.0,
                Norm = form.Norm,
                Groups = form.Groups,
                Activation = form.Activation,
                Slope = form.Slope
            )

        UNets.Level(
            b,
            PoolSpec(form.Pool),
            inner,
            UpSpec(width, form.Up),
            form.Merge,
            b,
            (if form.Gate > 0 then
                 GateSpec(form.Gate)
             else
                 Unchecked.defaultof<GateSpec>)
        )

    /// The network for `widths` (top to bottom; the last is the bottom block, so depth = length - 1)
    /// folded into levels, followed by the head. Other fields come from `form`. Zero or negative
    /// channels are left for `ShapeCheck.check`, which names the layer.
    /// <exception cref="System.ArgumentException">Fewer than two widths (depth 0).</exception>
    let unet (widths: int list) (form: UNetOptions) : Net =
        if List.length widths < 2 then
            invalidArg "widths" $"unet needs at least two widths (levels and the bottom, depth >= 1), got %A{widths}: depth 0 has no skip"

        UNet.Describe(form.With(widths = Array.ofList widths), validate = false)

/// Ready-made descriptions.
module Presets =
    /// Fig. 1 of the paper: 1 channel in, 2 classes, widths 64..1024, valid convolutions, transposed
    /// up-convolutions, strict pooling, dropout 0.5 after the bottom block. 572 in, 388 out.
    let paper = UNet.unet [ 64; 128; 256; 512; 1024 ] UNet.paperForm

    /// The padded net popular for the Carvana car-masking data: RGB in, 1 class (a binary mask,
    /// trained with a sigmoid), widths 64..1024, same padding, batch norm, bilinear up + 1x1, plain
    /// concat. Takes any multiple of 16; output size = input size. Not milesial/Pytorch-UNet's
    /// bilinear net (see `milesialBilinear`).
    let carvana = UNet.unet [ 64; 128; 256; 512; 1024 ] UNetOptions.Carvana

    /// The options of milesial/Pytorch-UNet's `UNet(n_channels=3, n_classes=classes, bilinear=False)`
    /// as a plain U-Net: DoubleConv = (3x3 conv without bias, batch norm, ReLU) x 2, 2x2 max-pool,
    /// 2x2 transposed up-convolutions, [skip, up] concat, 1x1 head; multiples of 16.
    let milesialForm classes =
        CropCat.Nets.MilesialUNet.TransposedOptions(3, classes)

    /// milesial's transposed net exactly as its code computes (floor pooling, pad-and-cat: any size
    /// from 16 on); `milesial 2` is its published Carvana model.
    let milesial classes =
        CropCat.Nets.MilesialUNet.Describe(3, classes, false)

    /// milesial's bilinear net: parameterless up-steps and decoder blocks that halve the channels in
    /// their second convolution.
    let milesialBilinear classes =
        CropCat.Nets.MilesialUNet.Describe(3, classes, true)

    /// The 3-D U-Net of Cicek et al. 2016: 3 channels in, 3 classes, 116x132x132 -> 28x44x44.
    let unet3d = UNets.Cicek3D()

    /// The paper's net with attention gates of 32 channels on every skip (Attention U-Net, 2-D).
    let attention =
        UNet.unet [ 64; 128; 256; 512; 1024 ] (UNetOptions.Paper.With(gate = 32))

    /// The presets by name, as the CLI offers them ("milesial": its published 2-class configuration).
    let byName = [
        "paper", paper
        "carvana", carvana
        "milesial", milesial 2
        "milesial-bilinear", milesialBilinear 2
        "unet3d", unet3d
        "attention", attention
    ]
