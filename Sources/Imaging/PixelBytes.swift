/// An intensity in [0, 1] as an 8-bit level: scaled by 255, rounded to nearest, clamped to 0 … 255.
/// NaN gives 0: a diverged model or a corrupt input may produce one, and `UInt8(Float.nan)` traps
/// (`min(max(nan, 0), 1)` is still NaN, so clamping alone does not help).
@inlinable
public func unitToByte(_ x: Float) -> UInt8 {
  guard x > 0 else { return 0 }  // false for NaN too
  guard x < 1 else { return 255 }
  return UInt8((x * 255).rounded())
}
