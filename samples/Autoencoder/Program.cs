// A dense autoencoder (784-128-32-128-784) that learns to reproduce MNIST digits through a 32-number code, compiled
// at build time like every Compiled model (see obj/*/generated/). Reports the test set's reconstruction loss and
// writes reconstructions.png: originals above their reconstructions.
//
//   dotnet run -c Release --project samples/Autoencoder [-- --epochs 10 --batch-size 128 --limit N --seed 1 --output PATH
//                                                          --plot history.png]   (--help lists the options)
using Compiled.Samples.Autoencoder;

return AutoencoderSample.Run(args, Console.Out);
