module CropCat.Dsl.Placeholder
let x = 1
