(module
  (import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $log (i32.const 2) (i32.const 0x7ffffff0) (i32.const 100))
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))
