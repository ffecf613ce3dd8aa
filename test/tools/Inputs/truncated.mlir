func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %y = llm.add %x, %x : tensor<4xf32>
