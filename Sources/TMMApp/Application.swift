import Logging
import TMMAdmission

/// The webhook's parts for one configuration: the reviewer and how it decides entries.
struct Application {
    var reviewer: AdmissionReviewer
    var readyAtStart: Bool
    var stateDescription: String

    static func make(options: ServeOptions, readiness: Readiness, logger: Logger) throws -> Application {
        // The policy engine is not wired yet: entries are allowed with a plain warning that nothing was checked.
        let reviewer = AdmissionReviewer(decider: UncheckedEntryDecider(), logger: logger)
        return Application(reviewer: reviewer, readyAtStart: true, stateDescription: "none (no safety checks)")
    }
}
