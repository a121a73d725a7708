(module
  ;; @morph-prelude
  (@custom "morph:contract" "9.9.9")
  (func (export "execute") (param i32 i32 i32 i32) (result i32) (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))
