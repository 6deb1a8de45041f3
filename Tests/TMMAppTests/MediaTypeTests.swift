import Testing

@testable import TMMApp

/// `/validate` takes JSON under any spelling of its media type, with parameters, and nothing else.
@Suite struct MediaTypeTests {
    @Test(arguments: [
        "application/json", "Application/JSON", "application/json; charset=utf-8", " application/json ",
        "application/json\t;charset=UTF-8", "APPLICATION/JSON;",
    ])
    func jsonIsAccepted(_ contentType: String) {
        #expect(WebhookHandler.namesJSON(contentType: contentType))
    }

    @Test(arguments: ["", "text/plain", "application/jsonx", "application/json-patch+json", "application/ json", "json", ";application/json"])
    func anythingElseIsNot(_ contentType: String) {
        #expect(!WebhookHandler.namesJSON(contentType: contentType))
    }
}
