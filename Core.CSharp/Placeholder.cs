namespace CropCat { internal static class Placeholder { } }
