/// What one fuzz input exercises in each reader, in one place: the libFuzzer targets in `Fuzz/` and
/// the regression tests of `Tests/Fixtures/fuzz/` call these, so a committed crash input replays
/// exactly the calls that found it.
public enum Exercise {}
