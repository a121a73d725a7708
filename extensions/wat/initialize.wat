(module
  ;; Exports `_initialize`, which wit-component would run on the reference backend only.
  ;; Function exports outside the contract are refused everywhere.
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (global $ran (mut i32) (i32.const 0))
  (func (export "_initialize") (global.set $ran (i32.const 1)))
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))
