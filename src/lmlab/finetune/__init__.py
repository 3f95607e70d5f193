"""Fine-tuning: features, batching, the loop, run folders."""
