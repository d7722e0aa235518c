using CropCat.Architecture;

namespace CropCat.Nets;

/// <summary>U-Net networks: the descriptions of <see cref="UNets"/>, built.</summary>
public static class UNet
{
    /// <summary>The description of a U-Net with <paramref name="o"/>'s hyperparameters (see <see cref="UNets.Describe"/>).</summary>
    public static NetSpec Describe(UNetOptions o, bool validate = true) => UNets.Describe(o, validate);

    /// <summary>Builds the network on <see cref="Runtime.Devices.Default"/> (or <paramref name="device"/>).</summary>
    public static Network Create(UNetOptions options, TorchSharp.torch.Device? device = null) =>
        Network.Create(Describe(options), "UNet", device);

    /// <summary>The paper's Fig. 1 network: 572x572 in, 388x388x2 out, 31,030,658 parameters.</summary>
    public static Network Paper(TorchSharp.torch.Device? device = null) => Create(UNetOptions.Paper, device);

    /// <summary>The 3-D U-Net of Cicek et al. 2016 (see <see cref="UNets.Cicek3D"/>), built.</summary>
    public static Network Cicek3D(int inChannels = 3, int classes = 3, TorchSharp.torch.Device? device = null) =>
        Network.Create(UNets.Cicek3D(inChannels, classes), "UNet3D", device);
}
