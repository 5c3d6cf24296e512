import Testing
@Test func execPlaceholder() { #expect(Bool(true)) }
