"""Compressed policies for edge deployment (seed 003 EdgeNetLLM, seed 004 DDLRO).

One-time pruning of a trained policy with no retraining (optionally ``--recover STEPS`` of short
fine-tuning on oracle labels), int8 dynamic quantisation (``torch.ao``) and ONNX export run by
onnxruntime, for setnet, DQN and the LLM policies (numeric encoder; text mode after its LoRA is
merged). torch and onnx/onnxruntime (the ``compress`` extra) are imported inside functions.

- ``prune``      : unstructured magnitude (per layer or global), structured (channels, attention
  heads, MLP channels; decoder layers through ``llm.model.prune_layers``), measured sparsity
- ``quant``      : int8 dynamic quantisation and its safetensors form (int8 weights + scales)
- ``models``     : loading a source policy as a torch module, and a compressed folder back
- ``export``     : ONNX graphs (with the LLM's fixed prefix cached inside) and their check
- ``recover``    : short fine-tuning with the pruning masks kept
- ``api``        : ``compress(...)``, what ``mecoffload compress`` runs
"""
