"""The tables of the TFLite flatbuffer schema, for the verifier in
int8sqz.verifier: each field's name, vtable slot, kind and type.

Generated from the ``tflite`` package by ``python tests/fuzzing.py schema``;
tests/operators/test_validation.py checks that it matches the installed package.
"""

# kind: scalar / vector (of scalars): detail is the struct format;
# string; table / tables (a vector of tables): detail is the table;
# union: detail is (union, slot of its type field)
TABLES = {
    'ATan2Options': (
    ),
    'AbsOptions': (
    ),
    'AddNOptions': (
    ),
    'AddOptions': (
        ('fused_activation_function', 4, 'scalar', '<b'),
        ('pot_scale_int16', 6, 'scalar', '<B'),
    ),
    'ArgMaxOptions': (
        ('output_type', 4, 'scalar', '<b'),
    ),
    'ArgMinOptions': (
        ('output_type', 4, 'scalar', '<b'),
    ),
    'AssignVariableOptions': (
    ),
    'BatchMatMulOptions': (
        ('adj_x', 4, 'scalar', '<B'),
        ('adj_y', 6, 'scalar', '<B'),
        ('asymmetric_quantize_inputs', 8, 'scalar', '<B'),
    ),
    'BatchToSpaceNDOptions': (
    ),
    'BidirectionalSequenceLSTMOptions': (
        ('fused_activation_function', 4, 'scalar', '<b'),
        ('cell_clip', 6, 'scalar', '<f'),
        ('proj_clip', 8, 'scalar', '<f'),
        ('merge_outputs', 10, 'scalar', '<B'),
        ('time_major', 12, 'scalar', '<B'),
        ('asymmetric_quantize_inputs', 14, 'scalar', '<B'),
    ),
    'BidirectionalSequenceRNNOptions': (
        ('time_major', 4, 'scalar', '<B'),
        ('fused_activation_function', 6, 'scalar', '<b'),
        ('merge_outputs', 8, 'scalar', '<B'),
        ('asymmetric_quantize_inputs', 10, 'scalar', '<B'),
    ),
    'BitcastOptions': (
    ),
    'BitwiseXorOptions': (
    ),
    'BroadcastToOptions': (
    ),
    'BucketizeOptions': (
        ('boundaries', 4, 'vector', '<f'),
    ),
    'Buffer': (
        ('data', 4, 'vector', '<B'),
        ('offset', 6, 'scalar', '<Q'),
        ('size', 8, 'scalar', '<Q'),
    ),
    'CallOnceOptions': (
        ('init_subgraph_index', 4, 'scalar', '<i'),
    ),
    'CallOptions': (
        ('subgraph', 4, 'scalar', '<I'),
    ),
    'CastOptions': (
        ('in_data_type', 4, 'scalar', '<b'),
        ('out_data_type', 6, 'scalar', '<b'),
    ),
    'ConcatEmbeddingsOptions': (
        ('num_channels', 4, 'scalar', '<i'),
        ('num_columns_per_channel', 6, 'vector', '<i'),
        ('embedding_dim_per_channel', 8, 'vector', '<i'),
    ),
    'ConcatenationOptions': (
        ('axis', 4, 'scalar', '<i'),
        ('fused_activation_function', 6, 'scalar', '<b'),
    ),
    'Conv2DOptions': (
        ('padding', 4, 'scalar', '<b'),
        ('stride_w', 6, 'scalar', '<i'),
        ('stride_h', 8, 'scalar', '<i'),
        ('fused_activation_function', 10, 'scalar', '<b'),
        ('dilation_wfactor', 12, 'scalar', '<i'),
        ('dilation_hfactor', 14, 'scalar', '<i'),
        ('quantized_bias_type', 16, 'scalar', '<b'),
    ),
    'Conv3DOptions': (
        ('padding', 4, 'scalar', '<b'),
        ('stride_d', 6, 'scalar', '<i'),
        ('stride_w', 8, 'scalar', '<i'),
        ('stride_h', 10, 'scalar', '<i'),
        ('fused_activation_function', 12, 'scalar', '<b'),
        ('dilation_dfactor', 14, 'scalar', '<i'),
        ('dilation_wfactor', 16, 'scalar', '<i'),
        ('dilation_hfactor', 18, 'scalar', '<i'),
    ),
    'CosOptions': (
    ),
    'CumsumOptions': (
        ('exclusive', 4, 'scalar', '<B'),
        ('reverse', 6, 'scalar', '<B'),
    ),
    'CustomQuantization': (
        ('custom', 4, 'vector', '<B'),
    ),
    'DensifyOptions': (
    ),
    'DepthToSpaceOptions': (
        ('block_size', 4, 'scalar', '<i'),
    ),
    'DepthwiseConv2DOptions': (
        ('padding', 4, 'scalar', '<b'),
        ('stride_w', 6, 'scalar', '<i'),
        ('stride_h', 8, 'scalar', '<i'),
        ('depth_multiplier', 10, 'scalar', '<i'),
        ('fused_activation_function', 12, 'scalar', '<b'),
        ('dilation_wfactor', 14, 'scalar', '<i'),
        ('dilation_hfactor', 16, 'scalar', '<i'),
    ),
    'DequantizeOptions': (
    ),
    'DilateOptions': (
    ),
    'DimensionMetadata': (
        ('format', 4, 'scalar', '<b'),
        ('dense_size', 6, 'scalar', '<i'),
        ('array_segments_type', 8, 'scalar', '<B'),
        ('array_segments', 10, 'union', ('SparseIndexVector', 8)),
        ('array_indices_type', 12, 'scalar', '<B'),
        ('array_indices', 14, 'union', ('SparseIndexVector', 12)),
    ),
    'DivOptions': (
        ('fused_activation_function', 4, 'scalar', '<b'),
    ),
    'DynamicUpdateSliceOptions': (
    ),
    'EmbeddingLookupSparseOptions': (
        ('combiner', 4, 'scalar', '<b'),
    ),
    'EqualOptions': (
    ),
    'ExpOptions': (
    ),
    'ExpandDimsOptions': (
    ),
    'FakeQuantOptions': (
        ('min', 4, 'scalar', '<f'),
        ('max', 6, 'scalar', '<f'),
        ('num_bits', 8, 'scalar', '<i'),
        ('narrow_range', 10, 'scalar', '<B'),
    ),
    'FillOptions': (
    ),
    'FloorDivOptions': (
    ),
    'FloorModOptions': (
    ),
    'FullyConnectedOptions': (
        ('fused_activation_function', 4, 'scalar', '<b'),
        ('weights_format', 6, 'scalar', '<b'),
        ('keep_num_dims', 8, 'scalar', '<B'),
        ('asymmetric_quantize_inputs', 10, 'scalar', '<B'),
        ('quantized_bias_type', 12, 'scalar', '<b'),
    ),
    'GatherNdOptions': (
    ),
    'GatherOptions': (
        ('axis', 4, 'scalar', '<i'),
        ('batch_dims', 6, 'scalar', '<i'),
    ),
    'GeluOptions': (
        ('approximate', 4, 'scalar', '<B'),
    ),
    'GreaterEqualOptions': (
    ),
    'GreaterOptions': (
    ),
    'HardSwishOptions': (
    ),
    'HashtableFindOptions': (
    ),
    'HashtableImportOptions': (
    ),
    'HashtableOptions': (
        ('table_id', 4, 'scalar', '<i'),
        ('key_dtype', 6, 'scalar', '<b'),
        ('value_dtype', 8, 'scalar', '<b'),
    ),
    'HashtableSizeOptions': (
    ),
    'IfOptions': (
        ('then_subgraph_index', 4, 'scalar', '<i'),
        ('else_subgraph_index', 6, 'scalar', '<i'),
    ),
    'Int32Vector': (
        ('values', 4, 'vector', '<i'),
    ),
    'L2NormOptions': (
        ('fused_activation_function', 4, 'scalar', '<b'),
    ),
    'LSHProjectionOptions': (
        ('type', 4, 'scalar', '<b'),
    ),
    'LSTMOptions': (
        ('fused_activation_function', 4, 'scalar', '<b'),
        ('cell_clip', 6, 'scalar', '<f'),
        ('proj_clip', 8, 'scalar', '<f'),
        ('kernel_type', 10, 'scalar', '<b'),
        ('asymmetric_quantize_inputs', 12, 'scalar', '<B'),
    ),
    'LeakyReluOptions': (
        ('alpha', 4, 'scalar', '<f'),
    ),
    'LessEqualOptions': (
    ),
    'LessOptions': (
    ),
    'LocalResponseNormalizationOptions': (
        ('radius', 4, 'scalar', '<i'),
        ('bias', 6, 'scalar', '<f'),
        ('alpha', 8, 'scalar', '<f'),
        ('beta', 10, 'scalar', '<f'),
    ),
    'LogSoftmaxOptions': (
    ),
    'LogicalAndOptions': (
    ),
    'LogicalNotOptions': (
    ),
    'LogicalOrOptions': (
    ),
    'MatrixDiagOptions': (
    ),
    'MatrixSetDiagOptions': (
    ),
    'MaximumMinimumOptions': (
    ),
    'Metadata': (
        ('name', 4, 'string', None),
        ('buffer', 6, 'scalar', '<I'),
    ),
    'MirrorPadOptions': (
        ('mode', 4, 'scalar', '<b'),
    ),
    'Model': (
        ('version', 4, 'scalar', '<I'),
        ('operator_codes', 6, 'tables', 'OperatorCode'),
        ('subgraphs', 8, 'tables', 'SubGraph'),
        ('description', 10, 'string', None),
        ('buffers', 12, 'tables', 'Buffer'),
        ('metadata_buffer', 14, 'vector', '<i'),
        ('metadata', 16, 'tables', 'Metadata'),
        ('signature_defs', 18, 'tables', 'SignatureDef'),
    ),
    'MulOptions': (
        ('fused_activation_function', 4, 'scalar', '<b'),
    ),
    'NegOptions': (
    ),
    'NonMaxSuppressionV4Options': (
    ),
    'NonMaxSuppressionV5Options': (
    ),
    'NotEqualOptions': (
    ),
    'OneHotOptions': (
        ('axis', 4, 'scalar', '<i'),
    ),
    'Operator': (
        ('opcode_index', 4, 'scalar', '<I'),
        ('inputs', 6, 'vector', '<i'),
        ('outputs', 8, 'vector', '<i'),
        ('builtin_options_type', 10, 'scalar', '<B'),
        ('builtin_options', 12, 'union', ('BuiltinOptions', 10)),
        ('custom_options', 14, 'vector', '<B'),
        ('custom_options_format', 16, 'scalar', '<b'),
        ('mutating_variable_inputs', 18, 'vector', '<B'),
        ('intermediates', 20, 'vector', '<i'),
        ('large_custom_options_offset', 22, 'scalar', '<Q'),
        ('large_custom_options_size', 24, 'scalar', '<Q'),
        ('builtin_options2_type', 26, 'scalar', '<B'),
        ('builtin_options2', 28, 'union', ('BuiltinOptions2', 26)),
        ('debug_metadata_index', 30, 'scalar', '<i'),
    ),
    'OperatorCode': (
        ('deprecated_builtin_code', 4, 'scalar', '<b'),
        ('custom_code', 6, 'string', None),
        ('version', 8, 'scalar', '<i'),
        ('builtin_code', 10, 'scalar', '<i'),
    ),
    'PackOptions': (
        ('values_count', 4, 'scalar', '<i'),
        ('axis', 6, 'scalar', '<i'),
    ),
    'PadOptions': (
    ),
    'PadV2Options': (
    ),
    'Pool2DOptions': (
        ('padding', 4, 'scalar', '<b'),
        ('stride_w', 6, 'scalar', '<i'),
        ('stride_h', 8, 'scalar', '<i'),
        ('filter_width', 10, 'scalar', '<i'),
        ('filter_height', 12, 'scalar', '<i'),
        ('fused_activation_function', 14, 'scalar', '<b'),
    ),
    'PowOptions': (
    ),
    'QuantizationParameters': (
        ('min', 4, 'vector', '<f'),
        ('max', 6, 'vector', '<f'),
        ('scale', 8, 'vector', '<f'),
        ('zero_point', 10, 'vector', '<q'),
        ('details_type', 12, 'scalar', '<B'),
        ('details', 14, 'union', ('QuantizationDetails', 12)),
        ('quantized_dimension', 16, 'scalar', '<i'),
    ),
    'QuantizeOptions': (
    ),
    'RNNOptions': (
        ('fused_activation_function', 4, 'scalar', '<b'),
        ('asymmetric_quantize_inputs', 6, 'scalar', '<B'),
    ),
    'RandomOptions': (
        ('seed', 4, 'scalar', '<q'),
        ('seed2', 6, 'scalar', '<q'),
    ),
    'RangeOptions': (
    ),
    'RankOptions': (
    ),
    'ReadVariableOptions': (
    ),
    'ReduceWindowOptions': (
        ('reduce_function', 4, 'scalar', '<i'),
    ),
    'ReducerOptions': (
        ('keep_dims', 4, 'scalar', '<B'),
    ),
    'ReshapeOptions': (
        ('new_shape', 4, 'vector', '<i'),
    ),
    'ResizeBilinearOptions': (
        ('align_corners', 8, 'scalar', '<B'),
        ('half_pixel_centers', 10, 'scalar', '<B'),
    ),
    'ResizeNearestNeighborOptions': (
        ('align_corners', 4, 'scalar', '<B'),
        ('half_pixel_centers', 6, 'scalar', '<B'),
    ),
    'ReverseSequenceOptions': (
        ('seq_dim', 4, 'scalar', '<i'),
        ('batch_dim', 6, 'scalar', '<i'),
    ),
    'ReverseV2Options': (
    ),
    'Rfft2dOptions': (
    ),
    'RightShiftOptions': (
    ),
    'SVDFOptions': (
        ('rank', 4, 'scalar', '<i'),
        ('fused_activation_function', 6, 'scalar', '<b'),
        ('asymmetric_quantize_inputs', 8, 'scalar', '<B'),
    ),
    'ScatterNdOptions': (
    ),
    'SegmentSumOptions': (
    ),
    'SelectOptions': (
    ),
    'SelectV2Options': (
    ),
    'SequenceRNNOptions': (
        ('time_major', 4, 'scalar', '<B'),
        ('fused_activation_function', 6, 'scalar', '<b'),
        ('asymmetric_quantize_inputs', 8, 'scalar', '<B'),
    ),
    'ShapeOptions': (
        ('out_type', 4, 'scalar', '<b'),
    ),
    'SignOptions': (
    ),
    'SignatureDef': (
        ('inputs', 4, 'tables', 'TensorMap'),
        ('outputs', 6, 'tables', 'TensorMap'),
        ('signature_key', 8, 'string', None),
        ('subgraph_index', 12, 'scalar', '<I'),
    ),
    'SkipGramOptions': (
        ('ngram_size', 4, 'scalar', '<i'),
        ('max_skip_size', 6, 'scalar', '<i'),
        ('include_all_ngrams', 8, 'scalar', '<B'),
    ),
    'SliceOptions': (
    ),
    'SoftmaxOptions': (
        ('beta', 4, 'scalar', '<f'),
    ),
    'SpaceToBatchNDOptions': (
    ),
    'SpaceToDepthOptions': (
        ('block_size', 4, 'scalar', '<i'),
    ),
    'SparseToDenseOptions': (
        ('validate_indices', 4, 'scalar', '<B'),
    ),
    'SparsityParameters': (
        ('traversal_order', 4, 'vector', '<i'),
        ('block_map', 6, 'vector', '<i'),
        ('dim_metadata', 8, 'tables', 'DimensionMetadata'),
    ),
    'SplitOptions': (
        ('num_splits', 4, 'scalar', '<i'),
    ),
    'SplitVOptions': (
        ('num_splits', 4, 'scalar', '<i'),
    ),
    'SquareOptions': (
    ),
    'SquaredDifferenceOptions': (
    ),
    'SqueezeOptions': (
        ('squeeze_dims', 4, 'vector', '<i'),
    ),
    'StableHLOCompositeOptions': (
        ('name', 4, 'string', None),
        ('decomposition_subgraph_index', 6, 'scalar', '<i'),
        ('composite_attributes', 8, 'vector', '<B'),
        ('composite_attributes_format', 10, 'scalar', '<b'),
        ('version', 12, 'scalar', '<i'),
    ),
    'StablehloBroadcastInDimOptions': (
        ('broadcast_dimensions', 4, 'vector', '<q'),
    ),
    'StablehloCompareOptions': (
        ('comparison_direction', 4, 'scalar', '<I'),
        ('compare_type', 6, 'scalar', '<I'),
    ),
    'StablehloConcatenateOptions': (
        ('dimension', 4, 'scalar', '<q'),
    ),
    'StablehloConvolutionOptions': (
        ('window_strides', 4, 'vector', '<q'),
        ('padding', 6, 'vector', '<q'),
        ('lhs_dilation', 8, 'vector', '<q'),
        ('rhs_dilation', 10, 'vector', '<q'),
        ('window_reversal', 12, 'vector', '<B'),
        ('input_batch_dimension', 14, 'scalar', '<q'),
        ('input_feature_dimension', 16, 'scalar', '<q'),
        ('input_spatial_dimensions', 18, 'vector', '<q'),
        ('kernel_input_feature_dimension', 20, 'scalar', '<q'),
        ('kernel_output_feature_dimension', 22, 'scalar', '<q'),
        ('kernel_spatial_dimensions', 24, 'vector', '<q'),
        ('output_batch_dimension', 26, 'scalar', '<q'),
        ('output_feature_dimension', 28, 'scalar', '<q'),
        ('output_spatial_dimensions', 30, 'vector', '<q'),
        ('feature_group_count', 32, 'scalar', '<q'),
        ('batch_group_count', 34, 'scalar', '<q'),
        ('precision_config', 36, 'vector', '<I'),
    ),
    'StablehloCustomCallOptions': (
        ('call_target_name', 4, 'string', None),
        ('has_side_effect', 6, 'scalar', '<B'),
        ('backend_config', 8, 'string', None),
        ('api_version', 10, 'scalar', '<i'),
        ('called_computations', 12, 'vector', '<i'),
        ('custom_attributes', 14, 'vector', '<B'),
    ),
    'StablehloDotGeneralOptions': (
        ('lhs_batching_dimensions', 4, 'vector', '<q'),
        ('rhs_batching_dimensions', 6, 'vector', '<q'),
        ('lhs_contracting_dimensions', 8, 'vector', '<q'),
        ('rhs_contracting_dimensions', 10, 'vector', '<q'),
        ('precision_config', 12, 'vector', '<I'),
    ),
    'StablehloDynamicSliceOptions': (
        ('slice_sizes', 4, 'vector', '<q'),
    ),
    'StablehloGatherOptions': (
        ('offset_dims', 4, 'vector', '<q'),
        ('collapsed_slice_dims', 6, 'vector', '<q'),
        ('start_index_map', 8, 'vector', '<q'),
        ('index_vector_dim', 10, 'scalar', '<q'),
        ('slice_sizes', 12, 'vector', '<q'),
        ('indices_are_sorted', 14, 'scalar', '<B'),
    ),
    'StablehloIotaOptions': (
        ('iota_dimension', 4, 'scalar', '<q'),
    ),
    'StablehloPadOptions': (
        ('edge_padding_low', 4, 'vector', '<q'),
        ('edge_padding_high', 6, 'vector', '<q'),
        ('interior_padding', 8, 'vector', '<q'),
    ),
    'StablehloReduceOptions': (
        ('dimensions', 4, 'vector', '<q'),
        ('body_subgraph_index', 6, 'scalar', '<i'),
    ),
    'StablehloReduceWindowOptions': (
        ('window_dimensions', 4, 'vector', '<q'),
        ('window_strides', 6, 'vector', '<q'),
        ('base_dilations', 8, 'vector', '<q'),
        ('window_dilations', 10, 'vector', '<q'),
        ('padding', 12, 'vector', '<q'),
        ('body_subgraph_index', 14, 'scalar', '<i'),
    ),
    'StablehloRngBitGeneratorOptions': (
        ('algorithm', 4, 'scalar', '<b'),
    ),
    'StablehloScatterOptions': (
        ('indices_are_sorted', 4, 'scalar', '<B'),
        ('update_window_dims', 6, 'vector', '<q'),
        ('inserted_window_dims', 8, 'vector', '<q'),
        ('scatter_dims_to_operand_dims', 10, 'vector', '<q'),
        ('index_vector_dim', 12, 'scalar', '<q'),
        ('unique_indices', 14, 'scalar', '<B'),
        ('update_computation_subgraph_index', 16, 'scalar', '<i'),
    ),
    'StablehloShiftLeftOptions': (
    ),
    'StablehloSliceOptions': (
        ('start_indices', 4, 'vector', '<q'),
        ('limit_indices', 6, 'vector', '<q'),
        ('strides', 8, 'vector', '<q'),
    ),
    'StablehloSortOptions': (
        ('dimension', 4, 'scalar', '<q'),
        ('is_stable', 6, 'scalar', '<B'),
        ('comparator_subgraph_index', 8, 'scalar', '<i'),
    ),
    'StablehloTransposeOptions': (
        ('permutation', 4, 'vector', '<q'),
    ),
    'StablehloWhileOptions': (
        ('cond_subgraph_index', 4, 'scalar', '<i'),
        ('body_subgraph_index', 6, 'scalar', '<i'),
    ),
    'StridedSliceOptions': (
        ('begin_mask', 4, 'scalar', '<i'),
        ('end_mask', 6, 'scalar', '<i'),
        ('ellipsis_mask', 8, 'scalar', '<i'),
        ('new_axis_mask', 10, 'scalar', '<i'),
        ('shrink_axis_mask', 12, 'scalar', '<i'),
        ('offset', 14, 'scalar', '<B'),
    ),
    'SubGraph': (
        ('tensors', 4, 'tables', 'Tensor'),
        ('inputs', 6, 'vector', '<i'),
        ('outputs', 8, 'vector', '<i'),
        ('operators', 10, 'tables', 'Operator'),
        ('name', 12, 'string', None),
        ('debug_metadata_index', 14, 'scalar', '<i'),
    ),
    'SubOptions': (
        ('fused_activation_function', 4, 'scalar', '<b'),
        ('pot_scale_int16', 6, 'scalar', '<B'),
    ),
    'Tensor': (
        ('shape', 4, 'vector', '<i'),
        ('type', 6, 'scalar', '<b'),
        ('buffer', 8, 'scalar', '<I'),
        ('name', 10, 'string', None),
        ('quantization', 12, 'table', 'QuantizationParameters'),
        ('is_variable', 14, 'scalar', '<B'),
        ('sparsity', 16, 'table', 'SparsityParameters'),
        ('shape_signature', 18, 'vector', '<i'),
        ('has_rank', 20, 'scalar', '<B'),
        ('variant_tensors', 22, 'tables', 'VariantSubType'),
    ),
    'TensorMap': (
        ('name', 4, 'string', None),
        ('tensor_index', 6, 'scalar', '<I'),
    ),
    'TileOptions': (
    ),
    'TopKV2Options': (
    ),
    'TransposeConvOptions': (
        ('padding', 4, 'scalar', '<b'),
        ('stride_w', 6, 'scalar', '<i'),
        ('stride_h', 8, 'scalar', '<i'),
        ('fused_activation_function', 10, 'scalar', '<b'),
        ('quantized_bias_type', 12, 'scalar', '<b'),
    ),
    'TransposeOptions': (
    ),
    'Uint16Vector': (
        ('values', 4, 'vector', '<H'),
    ),
    'Uint8Vector': (
        ('values', 4, 'vector', '<B'),
    ),
    'UnidirectionalSequenceLSTMOptions': (
        ('fused_activation_function', 4, 'scalar', '<b'),
        ('cell_clip', 6, 'scalar', '<f'),
        ('proj_clip', 8, 'scalar', '<f'),
        ('time_major', 10, 'scalar', '<B'),
        ('asymmetric_quantize_inputs', 12, 'scalar', '<B'),
        ('diagonal_recurrent_tensors', 14, 'scalar', '<B'),
    ),
    'UniqueOptions': (
        ('idx_out_type', 4, 'scalar', '<b'),
    ),
    'UnpackOptions': (
        ('num', 4, 'scalar', '<i'),
        ('axis', 6, 'scalar', '<i'),
    ),
    'UnsortedSegmentMaxOptions': (
    ),
    'UnsortedSegmentMinOptions': (
    ),
    'UnsortedSegmentProdOptions': (
    ),
    'UnsortedSegmentSumOptions': (
    ),
    'VarHandleOptions': (
        ('container', 4, 'string', None),
        ('shared_name', 6, 'string', None),
    ),
    'VariantSubType': (
        ('shape', 4, 'vector', '<i'),
        ('type', 6, 'scalar', '<b'),
        ('has_rank', 8, 'scalar', '<B'),
    ),
    'WhereOptions': (
    ),
    'WhileOptions': (
        ('cond_subgraph_index', 4, 'scalar', '<i'),
        ('body_subgraph_index', 6, 'scalar', '<i'),
    ),
    'ZerosLikeOptions': (
    ),
}

# union -> {type code: table}
UNIONS = {
    'BuiltinOptions': {
        1: 'Conv2DOptions',
        2: 'DepthwiseConv2DOptions',
        3: 'ConcatEmbeddingsOptions',
        4: 'LSHProjectionOptions',
        5: 'Pool2DOptions',
        6: 'SVDFOptions',
        7: 'RNNOptions',
        8: 'FullyConnectedOptions',
        9: 'SoftmaxOptions',
        10: 'ConcatenationOptions',
        11: 'AddOptions',
        12: 'L2NormOptions',
        13: 'LocalResponseNormalizationOptions',
        14: 'LSTMOptions',
        15: 'ResizeBilinearOptions',
        16: 'CallOptions',
        17: 'ReshapeOptions',
        18: 'SkipGramOptions',
        19: 'SpaceToDepthOptions',
        20: 'EmbeddingLookupSparseOptions',
        21: 'MulOptions',
        22: 'PadOptions',
        23: 'GatherOptions',
        24: 'BatchToSpaceNDOptions',
        25: 'SpaceToBatchNDOptions',
        26: 'TransposeOptions',
        27: 'ReducerOptions',
        28: 'SubOptions',
        29: 'DivOptions',
        30: 'SqueezeOptions',
        31: 'SequenceRNNOptions',
        32: 'StridedSliceOptions',
        33: 'ExpOptions',
        34: 'TopKV2Options',
        35: 'SplitOptions',
        36: 'LogSoftmaxOptions',
        37: 'CastOptions',
        38: 'DequantizeOptions',
        39: 'MaximumMinimumOptions',
        40: 'ArgMaxOptions',
        41: 'LessOptions',
        42: 'NegOptions',
        43: 'PadV2Options',
        44: 'GreaterOptions',
        45: 'GreaterEqualOptions',
        46: 'LessEqualOptions',
        47: 'SelectOptions',
        48: 'SliceOptions',
        49: 'TransposeConvOptions',
        50: 'SparseToDenseOptions',
        51: 'TileOptions',
        52: 'ExpandDimsOptions',
        53: 'EqualOptions',
        54: 'NotEqualOptions',
        55: 'ShapeOptions',
        56: 'PowOptions',
        57: 'ArgMinOptions',
        58: 'FakeQuantOptions',
        59: 'PackOptions',
        60: 'LogicalOrOptions',
        61: 'OneHotOptions',
        62: 'LogicalAndOptions',
        63: 'LogicalNotOptions',
        64: 'UnpackOptions',
        65: 'FloorDivOptions',
        66: 'SquareOptions',
        67: 'ZerosLikeOptions',
        68: 'FillOptions',
        69: 'BidirectionalSequenceLSTMOptions',
        70: 'BidirectionalSequenceRNNOptions',
        71: 'UnidirectionalSequenceLSTMOptions',
        72: 'FloorModOptions',
        73: 'RangeOptions',
        74: 'ResizeNearestNeighborOptions',
        75: 'LeakyReluOptions',
        76: 'SquaredDifferenceOptions',
        77: 'MirrorPadOptions',
        78: 'AbsOptions',
        79: 'SplitVOptions',
        80: 'UniqueOptions',
        81: 'ReverseV2Options',
        82: 'AddNOptions',
        83: 'GatherNdOptions',
        84: 'CosOptions',
        85: 'WhereOptions',
        86: 'RankOptions',
        87: 'ReverseSequenceOptions',
        88: 'MatrixDiagOptions',
        89: 'QuantizeOptions',
        90: 'MatrixSetDiagOptions',
        91: 'HardSwishOptions',
        92: 'IfOptions',
        93: 'WhileOptions',
        94: 'DepthToSpaceOptions',
        95: 'NonMaxSuppressionV4Options',
        96: 'NonMaxSuppressionV5Options',
        97: 'ScatterNdOptions',
        98: 'SelectV2Options',
        99: 'DensifyOptions',
        100: 'SegmentSumOptions',
        101: 'BatchMatMulOptions',
        102: 'CumsumOptions',
        103: 'CallOnceOptions',
        104: 'BroadcastToOptions',
        105: 'Rfft2dOptions',
        106: 'Conv3DOptions',
        107: 'HashtableOptions',
        108: 'HashtableFindOptions',
        109: 'HashtableImportOptions',
        110: 'HashtableSizeOptions',
        111: 'VarHandleOptions',
        112: 'ReadVariableOptions',
        113: 'AssignVariableOptions',
        114: 'RandomOptions',
        115: 'BucketizeOptions',
        116: 'GeluOptions',
        117: 'DynamicUpdateSliceOptions',
        118: 'UnsortedSegmentProdOptions',
        119: 'UnsortedSegmentMaxOptions',
        120: 'UnsortedSegmentMinOptions',
        121: 'UnsortedSegmentSumOptions',
        122: 'ATan2Options',
        123: 'SignOptions',
        124: 'BitcastOptions',
        125: 'BitwiseXorOptions',
        126: 'RightShiftOptions',
    },
    'BuiltinOptions2': {
        1: 'StablehloConcatenateOptions',
        2: 'StablehloBroadcastInDimOptions',
        3: 'StablehloSliceOptions',
        4: 'StablehloConvolutionOptions',
        5: 'StablehloCustomCallOptions',
        6: 'StablehloReduceOptions',
        7: 'StablehloScatterOptions',
        8: 'StablehloCompareOptions',
        9: 'StablehloDynamicSliceOptions',
        10: 'StablehloPadOptions',
        11: 'StablehloIotaOptions',
        12: 'StablehloDotGeneralOptions',
        13: 'StablehloReduceWindowOptions',
        14: 'StablehloSortOptions',
        15: 'StablehloWhileOptions',
        16: 'StablehloGatherOptions',
        17: 'StablehloTransposeOptions',
        18: 'DilateOptions',
        19: 'StablehloRngBitGeneratorOptions',
        20: 'ReduceWindowOptions',
        21: 'StableHLOCompositeOptions',
        22: 'StablehloShiftLeftOptions',
    },
    'QuantizationDetails': {
        1: 'CustomQuantization',
    },
    'SparseIndexVector': {
        1: 'Int32Vector',
        2: 'Uint16Vector',
        3: 'Uint8Vector',
    },
}
