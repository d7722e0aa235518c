using System;
using System.Collections.Generic;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using CropCat.Data;

namespace CropCat.Training;

/// <summary>
/// What a <see cref="Trainer"/> draws its training tiles from. An epoch visits draws 0 .. <see cref="Count"/> - 1 in
/// a seeded order; each draw gets its own seed, so a set may crop at random and still be reproducible. Draws are
/// made on the trainer's prefetch thread, so an implementation must be safe to call from another thread than the
/// one that made it (never from two at once).
/// </summary>
public interface ITrainingSet
{
    /// <summary>Draws per epoch.</summary>
    int Count { get; }

    /// <summary>The set's identity, stored in checkpoints: a resumed run must see the same set.</summary>
    string Fingerprint { get; }

    /// <summary>The tile of draw <paramref name="index"/> under <paramref name="seed"/> (the same pair gives the same tile).</summary>
    Sample Draw(int index, long seed);
}

/// <summary>A fixed list of tiles, all in memory: draw k is tile k, whatever the seed (the pre-streaming behaviour).</summary>
public sealed class FixedTiles : ITrainingSet
{
    private readonly IReadOnlyList<Sample> _tiles;
    private string? _fingerprint;

    /// <summary>Wraps <paramref name="tiles"/> (weights, when wanted, should already be computed).</summary>
    public FixedTiles(IReadOnlyList<Sample> tiles)
    {
        if (tiles.Count == 0) throw new ArgumentException("no training samples");
        _tiles = tiles;
    }

    /// <inheritdoc />
    public int Count => _tiles.Count;

    /// <summary>Sample count, then names, sizes, images and labels hashed in order.</summary>
    public string Fingerprint => _fingerprint ??= Hash(_tiles);

    /// <inheritdoc />
    public Sample Draw(int index, long seed) => _tiles[index];

    private static string Hash(IReadOnlyList<Sample> samples)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var s in samples)
        {
            hash.AppendData(Encoding.UTF8.GetBytes($"{s.Name}|{s.Channels}|{s.Height}|{s.Width}|"));
            hash.AppendData(MemoryMarshal.AsBytes(s.Image.AsSpan()));
            hash.AppendData(MemoryMarshal.AsBytes(s.Classes.AsSpan()));
        }
        return string.Create(CultureInfo.InvariantCulture, $"{samples.Count} samples, sha256 {Convert.ToHexString(hash.GetHashAndReset()).ToLowerInvariant()}");
    }
}
