/// What a run's data is for (pipeline `optout.purpose`), in the IETF AI Preferences vocabulary
/// (draft-ietf-aipref-vocab-08, section 6.1): the category whose preferences decide whether a sample may be kept.
/// Every stage that reads a preference (robots.txt, response headers, image metadata) reads it for this purpose.
public enum UsagePurpose: String, Sendable, CaseIterable {
    /// Training (changing the learned parameters of) a generative AI model: a LAION-style dataset's purpose.
    case trainAI = "train-ai"
    /// Using the content as input to a generative AI model (grounding, retrieval), not training.
    case aiUse = "ai-use"
    /// Building a search index that links to the source.
    case search
}
