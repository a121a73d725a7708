(module
  ;; A start function that makes a host call: the component model forbids leaving an
  ;; instance from its start function, and so does every backend.
  (import "morph:extension/log@0.1.0" "log" (func $log (param i32 i32 i32)))
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (func $start (call $log (i32.const 2) (i32.const 1024) (i32.const 3)))
  (start $start)
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))
