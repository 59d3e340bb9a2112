;; WebAssembly SIMD loops for the wasm backend's training kernels (arb/kernels/simd.ts), run on
;; tfjs's own heap (the memory is imported). Compiled by `deno task build-simd` into simd_wasm.ts.
;;
;; Layout: x is [p, c] float32, row-major, c a multiple of 4; per-channel vectors are float32
;; [c] unless said float64. All pointers are byte offsets into the memory. The main thread
;; calls these between tfjs kernels, so nothing else touches the memory meanwhile.
(module
  (import "env" "memory" (memory 1))

  ;; f64 accumulators acc[j..j+4] += promote(v) for a 4-lane float32 vector v.
  (func $acc4 (param $acc i32) (param $v v128)
    (v128.store offset=0 (local.get $acc)
      (f64x2.add (v128.load offset=0 (local.get $acc)) (f64x2.promote_low_f32x4 (local.get $v))))
    (v128.store offset=16 (local.get $acc)
      (f64x2.add (v128.load offset=16 (local.get $acc))
        (f64x2.promote_low_f32x4
          (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))

  ;; acc[0..c) += promote(part[0..c)) (float64 += float32, c a multiple of 4), part zeroed.
  (func $flush (param $acc i32) (param $part i32) (param $c i32)
    (local $j i32) (local $cb i32)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (loop $l
      (call $acc4 (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 1)))
        (v128.load (i32.add (local.get $part) (local.get $j))))
      (v128.store (i32.add (local.get $part) (local.get $j)) (v128.const i32x4 0 0 0 0))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br_if $l (i32.lt_u (local.get $j) (local.get $cb)))))

  ;; Rows summed in float32 before each flush into the float64 totals.
  (global $block i32 (i32.const 32))

  ;; Batch-norm statistics: s1[j] += x - shift[j], s2[j] += (x - shift[j])^2 (float64 s1, s2),
  ;; through float32 partial sums t1, t2 (zeroed, c floats each) over blocks of rows.
  (func (export "bn_stats")
    (param $x i32) (param $p i32) (param $c i32) (param $shift i32) (param $s1 i32) (param $s2 i32)
    (param $t1 i32) (param $t2 i32)
    (local $row i32) (local $j i32) (local $cb i32) (local $d v128) (local $a i32)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $p)))
        (local.set $j (i32.const 0))
        (loop $cols
          (local.set $d
            (f32x4.sub (v128.load (local.get $x))
              (v128.load (i32.add (local.get $shift) (local.get $j)))))
          (local.set $a (i32.add (local.get $t1) (local.get $j)))
          (v128.store (local.get $a) (f32x4.add (v128.load (local.get $a)) (local.get $d)))
          (local.set $a (i32.add (local.get $t2) (local.get $j)))
          (v128.store (local.get $a)
            (f32x4.add (v128.load (local.get $a)) (f32x4.mul (local.get $d) (local.get $d))))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $cb))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (if (i32.eqz (i32.rem_u (local.get $row) (global.get $block))) (then
          (call $flush (local.get $s1) (local.get $t1) (local.get $c))
          (call $flush (local.get $s2) (local.get $t2) (local.get $c))))
        (br $rows)))
    (call $flush (local.get $s1) (local.get $t1) (local.get $c))
    (call $flush (local.get $s2) (local.get $t2) (local.get $c)))

  ;; y = max(x * scale[j] + offset[j], floor) with floor 0 (fused ReLU) or -infinity.
  (func (export "bn_apply")
    (param $x i32) (param $y i32) (param $p i32) (param $c i32) (param $scale i32)
    (param $offset i32) (param $relu i32)
    (local $row i32) (local $j i32) (local $cb i32) (local $floor v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $floor
      (select (v128.const f32x4 0 0 0 0) (v128.const f32x4 -inf -inf -inf -inf) (local.get $relu)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $p)))
        (local.set $j (i32.const 0))
        (loop $cols
          (v128.store (local.get $y)
            (f32x4.max
              (f32x4.add
                (f32x4.mul (v128.load (local.get $x))
                  (v128.load (i32.add (local.get $scale) (local.get $j))))
                (v128.load (i32.add (local.get $offset) (local.get $j))))
              (local.get $floor)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $y (i32.add (local.get $y) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $cb))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows))))

  ;; Gradient sums: sg[j] += g, sgx[j] += g * (x - mean[j]), g = masked dy (float64 sg, sgx),
  ;; through float32 partial sums t1, t2 (zeroed, c floats each) over blocks of rows.
  (func (export "bn_grad_stats")
    (param $dy i32) (param $x i32) (param $y i32) (param $p i32) (param $c i32) (param $mean i32)
    (param $sg i32) (param $sgx i32) (param $relu i32) (param $t1 i32) (param $t2 i32)
    (local $row i32) (local $j i32) (local $cb i32) (local $g v128) (local $keep v128) (local $a i32)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $keep
      (select (v128.const i32x4 0 0 0 0) (v128.const i32x4 -1 -1 -1 -1) (local.get $relu)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $p)))
        (local.set $j (i32.const 0))
        (loop $cols
          (local.set $g
            (v128.and (v128.load (local.get $dy))
              (v128.or (f32x4.gt (v128.load (local.get $y)) (v128.const f32x4 0 0 0 0))
                (local.get $keep))))
          (local.set $a (i32.add (local.get $t1) (local.get $j)))
          (v128.store (local.get $a) (f32x4.add (v128.load (local.get $a)) (local.get $g)))
          (local.set $a (i32.add (local.get $t2) (local.get $j)))
          (v128.store (local.get $a)
            (f32x4.add (v128.load (local.get $a))
              (f32x4.mul (local.get $g)
                (f32x4.sub (v128.load (local.get $x))
                  (v128.load (i32.add (local.get $mean) (local.get $j)))))))
          (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $y (i32.add (local.get $y) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $cb))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (if (i32.eqz (i32.rem_u (local.get $row) (global.get $block))) (then
          (call $flush (local.get $sg) (local.get $t1) (local.get $c))
          (call $flush (local.get $sgx) (local.get $t2) (local.get $c))))
        (br $rows)))
    (call $flush (local.get $sg) (local.get $t1) (local.get $c))
    (call $flush (local.get $sgx) (local.get $t2) (local.get $c)))

  ;; dx = k[j] * g + a[j] * x + d[j], g = masked dy.
  (func (export "bn_grad_apply")
    (param $dy i32) (param $x i32) (param $y i32) (param $dx i32) (param $p i32) (param $c i32)
    (param $k i32) (param $a i32) (param $d i32) (param $relu i32)
    (local $row i32) (local $j i32) (local $cb i32) (local $keep v128)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $keep
      (select (v128.const i32x4 0 0 0 0) (v128.const i32x4 -1 -1 -1 -1) (local.get $relu)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $row) (local.get $p)))
        (local.set $j (i32.const 0))
        (loop $cols
          (v128.store (local.get $dx)
            (f32x4.add
              (f32x4.add
                (f32x4.mul (v128.load (i32.add (local.get $k) (local.get $j)))
                  (v128.and (v128.load (local.get $dy))
                    (v128.or (f32x4.gt (v128.load (local.get $y)) (v128.const f32x4 0 0 0 0))
                      (local.get $keep))))
                (f32x4.mul (v128.load (i32.add (local.get $a) (local.get $j)))
                  (v128.load (local.get $x))))
              (v128.load (i32.add (local.get $d) (local.get $j)))))
          (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
          (local.set $x (i32.add (local.get $x) (i32.const 16)))
          (local.set $y (i32.add (local.get $y) (i32.const 16)))
          (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
          (local.set $j (i32.add (local.get $j) (i32.const 16)))
          (br_if $cols (i32.lt_u (local.get $j) (local.get $cb))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows))))
;; Filter gradient of a conv with few input channels, without im2col: for every output pixel,
  ;; dw[i, j, c, :] += x[n, y*sh + i - pt, x*sw + j - pl, c] * dy[n, y, x, :] (dw zeroed by the
  ;; caller, co a multiple of 4, taps outside the image skipped).
  (func (export "conv_filter_grad_direct")
    (param $x i32) (param $dy i32) (param $dw i32) (param $n i32) (param $h i32) (param $w i32)
    (param $ci i32) (param $oh i32) (param $ow i32) (param $co i32) (param $kh i32) (param $kw i32)
    (param $sh i32) (param $sw i32) (param $pt i32) (param $pl i32)
    (local $b i32) (local $oy i32) (local $ox i32) (local $i i32) (local $j i32) (local $c i32)
    (local $iy i32) (local $ix i32) (local $q i32) (local $cob i32) (local $acc i32)
    (local $src i32) (local $xv v128) (local $dyrow i32)
    (local.set $cob (i32.shl (local.get $co) (i32.const 2)))
    (local.set $dyrow (local.get $dy))
    (local.set $b (i32.const 0))
    (block $bdone (loop $bl
      (br_if $bdone (i32.ge_u (local.get $b) (local.get $n)))
      (local.set $oy (i32.const 0))
      (block $ydone (loop $yl
        (br_if $ydone (i32.ge_u (local.get $oy) (local.get $oh)))
        (local.set $ox (i32.const 0))
        (block $xdone (loop $xl
          (br_if $xdone (i32.ge_u (local.get $ox) (local.get $ow)))
          (local.set $i (i32.const 0))
          (block $idone (loop $il
            (br_if $idone (i32.ge_u (local.get $i) (local.get $kh)))
            (local.set $iy (i32.sub (i32.add (i32.mul (local.get $oy) (local.get $sh)) (local.get $i))
              (local.get $pt)))
            ;; unsigned compare: a negative row wraps around and is skipped too
            (if (i32.lt_u (local.get $iy) (local.get $h)) (then
              (local.set $j (i32.const 0))
              (block $jdone (loop $jl
                (br_if $jdone (i32.ge_u (local.get $j) (local.get $kw)))
                (local.set $ix (i32.sub
                  (i32.add (i32.mul (local.get $ox) (local.get $sw)) (local.get $j)) (local.get $pl)))
                (if (i32.lt_u (local.get $ix) (local.get $w)) (then
                  ;; src = &x[b, iy, ix, 0]; acc = &dw[i, j, 0, 0]
                  (local.set $src (i32.add (local.get $x) (i32.shl
                    (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h))
                      (local.get $iy)) (local.get $w)) (local.get $ix)) (local.get $ci))
                    (i32.const 2))))
                  (local.set $acc (i32.add (local.get $dw) (i32.mul
                    (i32.mul (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j))
                      (local.get $ci))
                    (local.get $cob))))
                  (local.set $c (i32.const 0))
                  (block $cdone (loop $cl
                    (br_if $cdone (i32.ge_u (local.get $c) (local.get $ci)))
                    (local.set $xv (v128.load32_splat (local.get $src)))
                    (local.set $q (i32.const 0))
                    (loop $ql
                      (v128.store (i32.add (local.get $acc) (local.get $q))
                        (f32x4.add (v128.load (i32.add (local.get $acc) (local.get $q)))
                          (f32x4.mul (local.get $xv)
                            (v128.load (i32.add (local.get $dyrow) (local.get $q))))))
                      (local.set $q (i32.add (local.get $q) (i32.const 16)))
                      (br_if $ql (i32.lt_u (local.get $q) (local.get $cob))))
                    (local.set $src (i32.add (local.get $src) (i32.const 4)))
                    (local.set $acc (i32.add (local.get $acc) (local.get $cob)))
                    (local.set $c (i32.add (local.get $c) (i32.const 1)))
                    (br $cl)))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jl)))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $il)))
          (local.set $dyrow (i32.add (local.get $dyrow) (local.get $cob)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $xl)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $yl)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $bl))))
;; im2col for the filter gradient, transposed: dst[(i, j, c), (b, y, xo)] = x[b, y*sh + i - pt,
  ;; xo*sw + j - pl, c], zero outside the image; ci a multiple of 4; rows of dst are pcols long.
  ;; ranges holds, per filter column j, the first and past-the-last xo whose input column lies
  ;; inside (i32 pairs).
  (func (export "im2col_transposed")
    (param $src i32) (param $dst i32) (param $n i32) (param $h i32) (param $w i32) (param $ci i32)
    (param $oh i32) (param $ow i32) (param $kh i32) (param $kw i32) (param $sh i32) (param $sw i32)
    (param $pt i32) (param $pl i32) (param $ranges i32) (param $pcols i32)
    (local $pb i32) (local $b i32) (local $y i32) (local $i i32) (local $j i32) (local $c i32)
    (local $iy i32) (local $xo i32) (local $xlo i32) (local $xhi i32) (local $col i32)
    (local $d i32) (local $s i32) (local $step i32) (local $v v128)
    ;; pb: bytes between two rows of dst (pcols floats; n images may be a slice of the batch,
    ;; with src and dst offset to its first image)
    (local.set $pb (i32.shl (local.get $pcols) (i32.const 2)))
    (local.set $step (i32.shl (i32.mul (local.get $sw) (local.get $ci)) (i32.const 2)))
    (loop $bl
      (local.set $y (i32.const 0))
      (loop $yl
        (local.set $col (i32.shl
          (i32.mul (i32.add (i32.mul (local.get $b) (local.get $oh)) (local.get $y)) (local.get $ow))
          (i32.const 2)))
        (local.set $i (i32.const 0))
        (loop $il
          (local.set $iy (i32.sub (i32.add (i32.mul (local.get $y) (local.get $sh)) (local.get $i))
            (local.get $pt)))
          (local.set $j (i32.const 0))
          (loop $jl
            ;; d: byte address of dst[(i, j, 0), col]
            (local.set $d (i32.add (i32.add (local.get $dst) (local.get $col))
              (i32.mul (i32.mul (i32.add (i32.mul (local.get $i) (local.get $kw)) (local.get $j))
                (local.get $ci)) (local.get $pb))))
            (if (i32.lt_u (local.get $iy) (local.get $h))
              (then
                (local.set $xlo (i32.load (i32.add (local.get $ranges) (i32.shl (local.get $j)
                  (i32.const 3)))))
                (local.set $xhi (i32.load offset=4 (i32.add (local.get $ranges) (i32.shl (local.get $j)
                  (i32.const 3)))))
                (local.set $c (i32.const 0))
                (loop $cl
                  ;; zeros left and right of the inside range, in the 4 rows of this block
                  (local.set $xo (i32.const 0))
                  (block $zl_done (loop $zl
                    (br_if $zl_done (i32.ge_u (local.get $xo) (local.get $xlo)))
                    (call $zero4 (i32.add (local.get $d) (i32.shl (local.get $xo) (i32.const 2)))
                      (local.get $pb))
                    (local.set $xo (i32.add (local.get $xo) (i32.const 1)))
                    (br $zl)))
                  (local.set $xo (local.get $xhi))
                  (block $zr_done (loop $zr
                    (br_if $zr_done (i32.ge_u (local.get $xo) (local.get $ow)))
                    (call $zero4 (i32.add (local.get $d) (i32.shl (local.get $xo) (i32.const 2)))
                      (local.get $pb))
                    (local.set $xo (i32.add (local.get $xo) (i32.const 1)))
                    (br $zr)))
                  ;; s: byte address of x[b, iy, xlo*sw + j - pl, c]
                  (local.set $s (i32.add (local.get $src) (i32.shl (i32.add (i32.mul
                    (i32.sub (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h))
                      (local.get $iy)) (local.get $w)) (i32.add (i32.mul (local.get $xlo)
                      (local.get $sw)) (local.get $j))) (local.get $pl))
                    (local.get $ci)) (local.get $c)) (i32.const 2))))
                  (local.set $xo (local.get $xlo))
                  (block $xdone (loop $xl
                    (br_if $xdone (i32.ge_u (local.get $xo) (local.get $xhi)))
                    (local.set $v (v128.load (local.get $s)))
                    (local.set $xo (i32.shl (local.get $xo) (i32.const 2)))
                    (v128.store32_lane 0 (i32.add (local.get $d) (local.get $xo)) (local.get $v))
                    (v128.store32_lane 1 (i32.add (i32.add (local.get $d) (local.get $pb))
                      (local.get $xo)) (local.get $v))
                    (v128.store32_lane 2 (i32.add (i32.add (local.get $d) (i32.shl (local.get $pb)
                      (i32.const 1))) (local.get $xo)) (local.get $v))
                    (v128.store32_lane 3 (i32.add (i32.add (local.get $d) (i32.mul (local.get $pb)
                      (i32.const 3))) (local.get $xo)) (local.get $v))
                    (local.set $xo (i32.add (i32.shr_u (local.get $xo) (i32.const 2)) (i32.const 1)))
                    (local.set $s (i32.add (local.get $s) (local.get $step)))
                    (br $xl)))
                  (local.set $d (i32.add (local.get $d) (i32.shl (local.get $pb) (i32.const 2))))
                  (local.set $c (i32.add (local.get $c) (i32.const 4)))
                  (br_if $cl (i32.lt_u (local.get $c) (local.get $ci)))))
              (else
                ;; the input row is outside the image: the ci rows get zeros
                (local.set $c (i32.const 0))
                (loop $czl
                  (local.set $xo (i32.const 0))
                  (loop $zxl
                    (call $zero4 (i32.add (local.get $d) (i32.shl (local.get $xo) (i32.const 2)))
                      (local.get $pb))
                    (local.set $xo (i32.add (local.get $xo) (i32.const 1)))
                    (br_if $zxl (i32.lt_u (local.get $xo) (local.get $ow))))
                  (local.set $d (i32.add (local.get $d) (i32.shl (local.get $pb) (i32.const 2))))
                  (local.set $c (i32.add (local.get $c) (i32.const 4)))
                  (br_if $czl (i32.lt_u (local.get $c) (local.get $ci))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $jl (i32.lt_u (local.get $j) (local.get $kw))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $il (i32.lt_u (local.get $i) (local.get $kh))))
        (local.set $y (i32.add (local.get $y) (i32.const 1)))
        (br_if $yl (i32.lt_u (local.get $y) (local.get $oh))))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br_if $bl (i32.lt_u (local.get $b) (local.get $n)))))

  ;; Four zeros, one per row, at a, a + pb, a + 2 pb, a + 3 pb.
  (func $zero4 (param $a i32) (param $pb i32)
    (f32.store (local.get $a) (f32.const 0))
    (f32.store (i32.add (local.get $a) (local.get $pb)) (f32.const 0))
    (f32.store (i32.add (local.get $a) (i32.shl (local.get $pb) (i32.const 1))) (f32.const 0))
    (f32.store (i32.add (local.get $a) (i32.mul (local.get $pb) (i32.const 3))) (f32.const 0)))

  ;; One phase of a strided conv's input gradient into dx: dx[b, i*sh + rh, j*sw + rw, :] =
  ;; src[b, i, j, :] for i < qh, j < qw (ci floats per pixel, a multiple of 4).
  (func (export "interleave_phase")
    (param $src i32) (param $dst i32) (param $n i32) (param $h i32) (param $w i32) (param $ci i32)
    (param $qh i32) (param $qw i32) (param $sh i32) (param $sw i32) (param $rh i32) (param $rw i32)
    (local $b i32) (local $i i32) (local $j i32) (local $c i32) (local $d i32) (local $cb i32)
    (local $jump i32)
    (local.set $cb (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $jump (i32.mul (local.get $sw) (local.get $cb)))
    (loop $bl
      (local.set $i (i32.const 0))
      (loop $il
        (local.set $d (i32.add (local.get $dst) (i32.mul (i32.add (i32.mul (i32.add (i32.mul
          (local.get $b) (local.get $h)) (i32.add (i32.mul (local.get $i) (local.get $sh))
          (local.get $rh))) (local.get $w)) (local.get $rw)) (local.get $cb))))
        (local.set $j (i32.const 0))
        (loop $jl
          (local.set $c (i32.const 0))
          (loop $cl
            (v128.store (i32.add (local.get $d) (local.get $c))
              (v128.load (i32.add (local.get $src) (local.get $c))))
            (local.set $c (i32.add (local.get $c) (i32.const 16)))
            (br_if $cl (i32.lt_u (local.get $c) (local.get $cb))))
          (local.set $src (i32.add (local.get $src) (local.get $cb)))
          (local.set $d (i32.add (local.get $d) (local.get $jump)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $jl (i32.lt_u (local.get $j) (local.get $qw))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $il (i32.lt_u (local.get $i) (local.get $qh))))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br_if $bl (i32.lt_u (local.get $b) (local.get $n)))))
  ;; Filter gradient without im2col, tiled for registers: for every output pixel (oy, ox) and
  ;; tap (i, j) inside the image, a tile of 4 input channels x 8 output channels accumulates
  ;; x[b, iy, ix, c..c+3] (outer) dy[b, oy, ox, o..o+7] over the n images (the innermost loop:
  ;; no bounds to check there, and the tile's sums stay in registers). dw [kh, kw, ci, co] holds
  ;; running sums (zeroed by the caller); ci a multiple of 4, co of 8.
  (func (export "conv_filter_grad_tiled")
    (param $x i32) (param $dy i32) (param $dw i32) (param $n i32) (param $h i32) (param $w i32)
    (param $ci i32) (param $oh i32) (param $ow i32) (param $co i32) (param $kh i32) (param $kw i32)
    (param $sh i32) (param $sw i32) (param $pt i32) (param $pl i32)
    (local $oy i32) (local $ox i32) (local $i i32) (local $j i32) (local $c i32) (local $o i32)
    (local $iy i32) (local $ix i32) (local $b i32) (local $ximg i32) (local $dyimg i32)
    (local $rowb i32) (local $dyp i32) (local $xp0 i32) (local $accb i32) (local $a i32)
    (local $xp i32) (local $dp i32) (local $xv v128) (local $s v128) (local $d0 v128) (local $d1 v128)
    (local $a00 v128) (local $a01 v128) (local $a10 v128) (local $a11 v128) (local $a20 v128) (local $a21 v128) (local $a30 v128) (local $a31 v128)
    (local.set $ximg (i32.shl (i32.mul (i32.mul (local.get $h) (local.get $w)) (local.get $ci))
      (i32.const 2)))
    (local.set $dyimg (i32.shl (i32.mul (i32.mul (local.get $oh) (local.get $ow)) (local.get $co))
      (i32.const 2)))
    (local.set $rowb (i32.shl (local.get $co) (i32.const 2)))
    (loop $yl
      (local.set $ox (i32.const 0))
      (loop $xl
        (local.set $dyp (i32.add (local.get $dy) (i32.shl (i32.mul (i32.add (i32.mul
          (local.get $oy) (local.get $ow)) (local.get $ox)) (local.get $co)) (i32.const 2))))
        (local.set $i (i32.const 0))
        (loop $il
          (local.set $iy (i32.sub (i32.add (i32.mul (local.get $oy) (local.get $sh)) (local.get $i))
            (local.get $pt)))
          (if (i32.lt_u (local.get $iy) (local.get $h)) (then
            (local.set $j (i32.const 0))
            (loop $jl
              (local.set $ix (i32.sub (i32.add (i32.mul (local.get $ox) (local.get $sw))
                (local.get $j)) (local.get $pl)))
              (if (i32.lt_u (local.get $ix) (local.get $w)) (then
                (local.set $xp0 (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul
                  (local.get $iy) (local.get $w)) (local.get $ix)) (local.get $ci)) (i32.const 2))))
                (local.set $accb (i32.add (local.get $dw) (i32.shl (i32.mul (i32.mul (i32.add
                  (i32.mul (local.get $i) (local.get $kw)) (local.get $j)) (local.get $ci))
                  (local.get $co)) (i32.const 2))))
                (local.set $c (i32.const 0))
                (loop $cl
                  (local.set $o (i32.const 0))
                  (loop $ol
                    (local.set $a (i32.add (local.get $accb) (i32.shl (i32.add (i32.mul
                      (local.get $c) (local.get $co)) (local.get $o)) (i32.const 2))))
                      (local.set $a00 (v128.load (local.get $a)))
                      (local.set $a01 (v128.load (i32.add (local.get $a) (i32.const 16))))
                      (local.set $a10 (v128.load (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 1)))))
                      (local.set $a11 (v128.load (i32.add (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 1))) (i32.const 16))))
                      (local.set $a20 (v128.load (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 2)))))
                      (local.set $a21 (v128.load (i32.add (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 2))) (i32.const 16))))
                      (local.set $a30 (v128.load (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 3)))))
                      (local.set $a31 (v128.load (i32.add (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 3))) (i32.const 16))))
                    (local.set $xp (i32.add (local.get $xp0) (i32.shl (local.get $c) (i32.const 2))))
                    (local.set $dp (i32.add (local.get $dyp) (i32.shl (local.get $o) (i32.const 2))))
                    (local.set $b (i32.const 0))
                    (loop $bl
                      (local.set $xv (v128.load (local.get $xp)))
                      (local.set $d0 (v128.load (local.get $dp)))
                      (local.set $d1 (v128.load offset=16 (local.get $dp)))
                        (local.set $s (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $xv) (local.get $xv)))
                        (local.set $a00 (f32x4.add (local.get $a00) (f32x4.mul (local.get $s) (local.get $d0))))
                        (local.set $a01 (f32x4.add (local.get $a01) (f32x4.mul (local.get $s) (local.get $d1))))
                        (local.set $s (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $xv) (local.get $xv)))
                        (local.set $a10 (f32x4.add (local.get $a10) (f32x4.mul (local.get $s) (local.get $d0))))
                        (local.set $a11 (f32x4.add (local.get $a11) (f32x4.mul (local.get $s) (local.get $d1))))
                        (local.set $s (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $xv) (local.get $xv)))
                        (local.set $a20 (f32x4.add (local.get $a20) (f32x4.mul (local.get $s) (local.get $d0))))
                        (local.set $a21 (f32x4.add (local.get $a21) (f32x4.mul (local.get $s) (local.get $d1))))
                        (local.set $s (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $xv) (local.get $xv)))
                        (local.set $a30 (f32x4.add (local.get $a30) (f32x4.mul (local.get $s) (local.get $d0))))
                        (local.set $a31 (f32x4.add (local.get $a31) (f32x4.mul (local.get $s) (local.get $d1))))
                      (local.set $xp (i32.add (local.get $xp) (local.get $ximg)))
                      (local.set $dp (i32.add (local.get $dp) (local.get $dyimg)))
                      (local.set $b (i32.add (local.get $b) (i32.const 1)))
                      (br_if $bl (i32.lt_u (local.get $b) (local.get $n))))
                      (v128.store (local.get $a) (local.get $a00))
                      (v128.store (i32.add (local.get $a) (i32.const 16)) (local.get $a01))
                      (v128.store (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 1))) (local.get $a10))
                      (v128.store (i32.add (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 1))) (i32.const 16)) (local.get $a11))
                      (v128.store (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 2))) (local.get $a20))
                      (v128.store (i32.add (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 2))) (i32.const 16)) (local.get $a21))
                      (v128.store (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 3))) (local.get $a30))
                      (v128.store (i32.add (i32.add (local.get $a) (i32.mul (local.get $rowb) (i32.const 3))) (i32.const 16)) (local.get $a31))
                    (local.set $o (i32.add (local.get $o) (i32.const 8)))
                    (br_if $ol (i32.lt_u (local.get $o) (local.get $co))))
                  (local.set $c (i32.add (local.get $c) (i32.const 4)))
                  (br_if $cl (i32.lt_u (local.get $c) (local.get $ci))))))
              (local.set $j (i32.add (local.get $j) (i32.const 1)))
              (br_if $jl (i32.lt_u (local.get $j) (local.get $kw))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $il (i32.lt_u (local.get $i) (local.get $kh))))
        (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
        (br_if $xl (i32.lt_u (local.get $ox) (local.get $ow))))
      (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
      (br_if $yl (i32.lt_u (local.get $oy) (local.get $oh)))))
)
