"""Model conversion: lmlab run folders to HF transformers and ONNX folders, and back."""
