(module
  ;; A host call whose return area is 0xfffffffc: the host's answer (a refusal) cannot
  ;; be written there, and that is the guest's fault, not a crash.
  (import "morph:extension/kv@0.1.0" "get" (func $get (param i32 i32 i32)))
  ;; @morph-prelude
  (@custom "morph:contract" "0.1.0")
  (func (export "execute") (param i32 i32 i32 i32) (result i32)
    (call $get (i32.const 1024) (i32.const 3) (i32.const -4))
    (call $ret (i32.const 0) (i32.const 1048) (i32.const 2))))
