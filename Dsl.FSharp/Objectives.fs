/// Segmentation losses as F# values: `Loss.bce + Loss.dice`, `0.5 * Loss.focal 2.0 + Loss.lovasz`.
/// Thin over CropCat.Training.Objective: `+` and `*` are the core type's operators, and every value here is an
/// Objective (a record compared by value) whose `string` is the text form `Loss.parse` reads back.
[<RequireQualifiedAccess>]
module CropCat.Dsl.Loss

open CropCat.Training

/// The paper's pixel-weighted softmax cross-entropy (`wce`).
let wce: Objective = WeightedCrossEntropy()

/// Binary cross-entropy on a one-channel sigmoid head (`bce`).
let bce: Objective = BinaryCrossEntropy()

/// Binary cross-entropy with the positive term weighted by `posWeight` (`bce(pos_weight=...)`).
let bceWithPosWeight (posWeight: float) : Objective =
    BinaryCrossEntropy(PosWeight = posWeight)

/// Soft Dice, smoothing 1, classes weighted equally (`dice`).
let dice: Objective = Dice()

/// Soft Dice with one weight per channel (0 leaves a class out).
let diceWeighted (classWeights: float seq) : Objective =
    Dice(ClassWeights = ClassWeights classWeights)

/// Soft Jaccard (IoU), smoothing 1 (`jaccard`).
let jaccard: Objective = Jaccard()

/// Focal loss with focusing exponent `gamma` (`focal(gamma=...)`).
let focal (gamma: float) : Objective = Focal(Gamma = gamma)

/// Focal loss with focusing exponent `gamma` and foreground balance `alpha` (`focal(gamma=...,alpha=...)`).
let focalBalanced (gamma: float) (alpha: float) : Objective = Focal(Gamma = gamma, Alpha = alpha)

/// Tversky loss, `alpha` weighing false positives and `beta` false negatives (`tversky(alpha=...,beta=...)`).
let tversky (alpha: float) (beta: float) : Objective = Tversky(Alpha = alpha, Beta = beta)

/// Focal Tversky loss, (1 - TI)^gamma per class (`focal-tversky(alpha=...,beta=...,gamma=...)`).
let focalTversky (alpha: float) (beta: float) (gamma: float) : Objective =
    FocalTversky(Alpha = alpha, Beta = beta, Gamma = gamma)

/// Lovasz hinge (binary head) or Lovasz softmax, per image (`lovasz`).
let lovasz: Objective = Lovasz()

/// Lovasz hinge or softmax over the whole batch at once (`lovasz(per_image=false)`).
let lovaszBatch: Objective = Lovasz(PerImage = false)

/// `objective` with pixels labelled `label` left out (e.g. 255); applied to every loss of a sum.
let rec ignoring (label: int) (objective: Objective) : Objective =
    match objective with
    | :? WeightedSum as s -> WeightedSum(s.Terms |> Seq.map (fun t -> WeightedTerm(t.Weight, ignoring label t.Objective)))
    | :? BasicObjective as b -> b.WithIgnoreIndex label
    | o -> invalidArg (nameof objective) $"no ignore index for {o.GetType().Name}"

/// Σ weight * objective over the pairs.
let weighted (terms: (float * Objective) seq) : Objective =
    WeightedSum(terms |> Seq.map WeightedTerm)

/// Reads the text form (`"bce+dice"`, `"0.5*focal+lovasz"`, `"tversky(alpha=0.3,beta=0.7)"`).
let parse (text: string) : Objective = Objective.Parse text

/// The objective an old LossKind names.
let ofKind (kind: LossKind) : Objective = Objective.FromKind kind
