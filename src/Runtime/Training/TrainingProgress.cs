namespace Compiled;

/// <summary>
/// Where <see cref="ModelExtensions.Fit"/> stands, reported through <see cref="IProgress{T}"/> at most about 50 times
/// per epoch and once at each epoch's end (the report with <c>Batch == Batches</c>, which carries the validation
/// metrics when there is validation data).
/// </summary>
/// <param name="Epoch">The current epoch, counted from 1.</param>
/// <param name="Epochs">The number of epochs asked for.</param>
/// <param name="Batch">Batches done in this epoch, counted from 1.</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="Loss">The mean training loss of this epoch so far.</param>
/// <param name="Accuracy">The training accuracy of this epoch so far (<see cref="double.NaN"/> without classes).</param>
/// <param name="ValidationLoss">The validation loss, in the end-of-epoch report when there is validation data.</param>
/// <param name="ValidationAccuracy">The validation accuracy, in the end-of-epoch report when there is validation data.</param>
public readonly record struct TrainingProgress(
    int Epoch, int Epochs, int Batch, int Batches, double Loss, double Accuracy,
    double? ValidationLoss = null, double? ValidationAccuracy = null)
{
    /// <summary>Whether this is the end-of-epoch report.</summary>
    public bool IsEpochEnd => Batch == Batches;

    /// <summary>The fraction of the whole run done, in [0, 1].</summary>
    public double Fraction => Epochs == 0 || Batches == 0 ? 0 : ((Epoch - 1) + (double)Batch / Batches) / Epochs;
}
