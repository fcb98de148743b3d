using System.Collections.Concurrent;
using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace Compiled.Generator;

/// <summary>Every diagnostic the generator reports. Ids are stable; messages name the symbol and the fix.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Compiled";

    public static readonly DiagnosticDescriptor NotPartial = new(
        "CMP001", "Model class must be partial",
        "Model class '{0}' must be declared partial so Compiled can generate its training code; add the 'partial' modifier",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MissingInput = new(
        "CMP002", "Model has no [Input]",
        "Model '{0}' has layer attributes but no [Input]; add one before the first layer, for example [Input(784)]",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor MissingLoss = new(
        "CMP003", "Model has no [Loss]",
        "Model '{0}' has no [Loss]; add one, such as [Loss(Loss.SparseCategoricalCrossEntropy)] for class labels or [Loss(Loss.MeanSquaredError)] for regression",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor LossDoesNotFitOutput = new(
        "CMP004", "Loss does not fit the model's output",
        "{0} on model '{1}': {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NonPositiveSize = new(
        "CMP005", "Size must be positive",
        "{0} must be positive, but it is {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor LayersSplitOverPartials = new(
        "CMP006", "Layer attributes are spread over several partial declarations",
        "The layer attributes of model '{0}' are spread over several partial declarations, so their order is ambiguous; move them all onto one declaration",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnsupportedType = new(
        "CMP008", "Unsupported model type",
        "'{0}' cannot be a model: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownEnumValue = new(
        "CMP009", "Unknown enum value",
        "{0} is not a known {1}; use one of the named {1} values",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidLayerName = new(
        "CMP010", "Invalid layer name",
        "Layer name '{0}' {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InputNotFirst = new(
        "CMP011", "[Input] is not the first layer attribute",
        "[Input] must come before the layers of model '{0}': move it above the first layer attribute",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NoLayers = new(
        "CMP012", "Model has no layers",
        "Model '{0}' has no layers; add at least one, such as [Dense(10, Activation.Softmax)]",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ShapeMismatch = new(
        "CMP013", "A layer does not fit its input's shape",
        "{0}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ModelTooLarge = new(
        "CMP014", "Model is too large",
        "Model '{0}' is too large: it needs {1} floats in one arena, more than the limit of {2}; use fewer or smaller layers",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InvalidArgument = new(
        "CMP015", "A layer argument is out of range",
        "{0}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor EmbeddingNotFirst = new(
        "CMP025", "Embedding is not the first layer",
        "Embedding layer {0} gets {1} from the layer before, but an Embedding reads token ids, which only the model's input holds; move [Embedding] right after [Input(T)]",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor EmbeddingInputNotTokens = new(
        "CMP026", "Embedding needs a 1-D input of token ids",
        "Embedding needs a 1-D input of T token ids, but the input is {0}; declare [Input(T)] (for example [Input({1})] for the same number of ids)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ReconstructionSizeMismatch = new(
        "CMP030", "An autoencoder's output does not have its input's size",
        "Model '{0}' reconstructs its input (Target = LossTarget.Input), so its output must have the input's size, but the input has {1} floats ({2}) and the output {3} ({4}); end with a layer of {1} units such as [Dense({1}, Activation.Sigmoid)]",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ReconstructionNeedsDenseTargets = new(
        "CMP031", "Sparse class labels cannot be an input to reconstruct",
        "Model '{0}' reconstructs its input (Target = LossTarget.Input), but {1} compares the output with one class label per sample; use Loss.MeanSquaredError, or Loss.BinaryCrossEntropy for inputs in [0, 1]",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ClassNamedLikeGeneratedMember = new(
        "CMP040", "Model class has the name of a generated member",
        "Model class '{0}' cannot be named '{1}': Compiled generates a member of that name in it ({2}), and a member cannot have its class's name; rename the class",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor PrimaryConstructorWithParameters = new(
        "CMP041", "Model class has a primary constructor with parameters",
        "Model '{0}' has a primary constructor with parameters, which the constructor Compiled generates ({1}(int seed = 0)) cannot pass on; remove the parameter list, or keep it empty",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BaseWithoutParameterlessConstructor = new(
        "CMP042", "Model's base class has no parameterless constructor",
        "The base class '{1}' of model '{0}' has no accessible constructor that takes no arguments, which the constructor Compiled generates calls; add one to '{1}' (it may be protected) or derive the model from another class",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor BaseMemberClash = new(
        "CMP043", "Model's base class has a member that a generated member would hide",
        "The base class '{1}' of model '{0}' has a member '{2}', which {3} that Compiled generates would hide; rename it in '{1}'{4}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor GeneratedNameCollision = new(
        "CMP044", "Two layers give generated members the same name",
        "Layer '{0}' of model '{1}' would declare '{2}', which {3} already declares; give one of the layers another Name",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor GlobalTypeHidesNamespace = new(
        "CMP045", "A type hides a namespace or type the generated code uses",
        "The type '{1}' hides global::{1}, which the code Compiled generates for model '{0}' uses; rename the type or move it to another namespace",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor InternalError = new(
        "CMP999", "The generator failed",
        "Compiled could not generate model '{0}': {1}. This is a bug in Compiled; please report it with the model's definition.",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    private static readonly Dictionary<string, DiagnosticDescriptor> s_byId = new()
    {
        [NotPartial.Id] = NotPartial,
        [MissingInput.Id] = MissingInput,
        [MissingLoss.Id] = MissingLoss,
        [LossDoesNotFitOutput.Id] = LossDoesNotFitOutput,
        [NonPositiveSize.Id] = NonPositiveSize,
        [LayersSplitOverPartials.Id] = LayersSplitOverPartials,
        [UnsupportedType.Id] = UnsupportedType,
        [UnknownEnumValue.Id] = UnknownEnumValue,
        [InvalidLayerName.Id] = InvalidLayerName,
        [InputNotFirst.Id] = InputNotFirst,
        [NoLayers.Id] = NoLayers,
        [ShapeMismatch.Id] = ShapeMismatch,
        [ModelTooLarge.Id] = ModelTooLarge,
        [InvalidArgument.Id] = InvalidArgument,
        [EmbeddingNotFirst.Id] = EmbeddingNotFirst,
        [EmbeddingInputNotTokens.Id] = EmbeddingInputNotTokens,
        [ReconstructionSizeMismatch.Id] = ReconstructionSizeMismatch,
        [ReconstructionNeedsDenseTargets.Id] = ReconstructionNeedsDenseTargets,
        [ClassNamedLikeGeneratedMember.Id] = ClassNamedLikeGeneratedMember,
        [PrimaryConstructorWithParameters.Id] = PrimaryConstructorWithParameters,
        [BaseWithoutParameterlessConstructor.Id] = BaseWithoutParameterlessConstructor,
        [BaseMemberClash.Id] = BaseMemberClash,
        [GeneratedNameCollision.Id] = GeneratedNameCollision,
        [GlobalTypeHidesNamespace.Id] = GlobalTypeHidesNamespace,
        [InternalError.Id] = InternalError,
    };

    public static DiagnosticDescriptor ById(string id) => s_byId[id];

    /// <summary>Every descriptor, by id.</summary>
    public static IEnumerable<DiagnosticDescriptor> All => s_byId.Values;

    private static readonly ConcurrentDictionary<(string Id, string HelpBase), DiagnosticDescriptor> s_withHelp = new();

    /// <summary>
    /// The descriptor of <paramref name="id"/> with its help link: <paramref name="helpBase"/> (the README, see
    /// <see cref="HelpLinks"/>) and the anchor of the id's section, <c>#cmpNNN</c>.
    /// </summary>
    public static DiagnosticDescriptor ById(string id, string helpBase) => WithHelpLink(ById(id), helpBase);

    /// <summary>The same descriptor with the help link <paramref name="helpBase"/><c>#cmpNNN</c>.</summary>
    public static DiagnosticDescriptor WithHelpLink(DiagnosticDescriptor descriptor, string helpBase)
    {
        if (s_withHelp.TryGetValue((descriptor.Id, helpBase), out DiagnosticDescriptor? cached)) return cached;
        var linked = new DiagnosticDescriptor(
            descriptor.Id, descriptor.Title, descriptor.MessageFormat, descriptor.Category, descriptor.DefaultSeverity,
            descriptor.IsEnabledByDefault, descriptor.Description, HelpLinks.For(helpBase, descriptor.Id),
            System.Linq.Enumerable.ToArray(descriptor.CustomTags));
        return s_withHelp.GetOrAdd((descriptor.Id, helpBase), linked);
    }
}
