// Classifies handwritten digits with a model trained by samples/Mnist: loads its checkpoint (safetensors, written by
// `samples/Mnist --save`) and prints the class and its probability for each image given: PNG files, or every image
// of an MNIST IDX file (raw or .gz). Published with NativeAOT into one native file:
//
//   dotnet publish samples/AotInference -c Release -r linux-x64 -p:PublishAot=true
//   samples/AotInference/bin/Release/net10.0/linux-x64/publish/AotInference --checkpoint mnist.safetensors digit.png t10k-images-idx3-ubyte.gz --take 5
using System.CommandLine;
using Compiled;
using Compiled.Samples;

var images = new Argument<string[]>("images")
{
    Description = "PNG files (any size; read as gray, scaled to 28x28, inverted when the background is light) and MNIST IDX image files.",
    Arity = ArgumentArity.OneOrMore,
};
var checkpoint = new Option<string>("--checkpoint")
{
    Description = "The trained model: a safetensors file written by samples/Mnist --save.", DefaultValueFactory = _ => "mnist.safetensors", HelpName = "PATH",
};
var model = SampleCli.Choice("--model", "The network the checkpoint holds (samples/Mnist --model).", "mlp", "cnn");
var take = SampleCli.OptionalPositive("--take", "Classify only the first N images of each IDX file.");
var command = new RootCommand("Classifies digit images with a Compiled model trained by samples/Mnist.") { images, checkpoint, model, take };
command.SetAction(parsed => Classify(parsed.GetRequiredValue(checkpoint), parsed.GetRequiredValue(model), parsed.GetRequiredValue(images), parsed.GetValue(take)));
return SampleCli.Run(command, args);

static int Classify(string checkpoint, string kind, string[] files, int? take)
{
    IModel model = kind == "cnn" ? MnistCnn.Load(checkpoint) : MnistMlp.Load(checkpoint);
    Span<float> probabilities = stackalloc float[Mnist.Classes];
    foreach (string file in files)
    {
        if (Images.IsPng(file))
        {
            float[] pixels = Images.ReadPng(file, out bool inverted);
            Print(file + (inverted ? " (inverted)" : ""), model, pixels, probabilities);
            continue;
        }
        MnistImages idx = Mnist.ReadImages(file);
        if (idx.Rows * idx.Columns != Images.Pixels)
            throw new InvalidDataException($"{file} holds {idx.Rows}x{idx.Columns} images; the model takes 28x28.");
        int count = Math.Min(idx.Count, take ?? int.MaxValue);
        for (int i = 0; i < count; i++)
            Print($"{file}[{i}]", model, idx.Pixels.AsSpan(i * Images.Pixels, Images.Pixels), probabilities);
    }
    return 0;
}

static void Print(string name, IModel model, ReadOnlySpan<float> pixels, Span<float> probabilities)
{
    model.Predict(pixels, probabilities);
    int best = 0;
    for (int c = 1; c < probabilities.Length; c++)
        if (probabilities[c] > probabilities[best]) best = c;
    Console.WriteLine($"{name}: {best} (p = {probabilities[best]:F4})");
}
