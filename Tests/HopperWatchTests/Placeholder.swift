import Testing
@Test func watchPlaceholder() { #expect(Bool(true)) }
