"""Image→text and text→image retrieval by the image–text matching head (UNITER §4.2, its
zero-shot retrieval uses the ITM score): every picture scored against every caption, the
true pair ranked among all, recall@k reported (issue 22: on the held-out emoji pairs, with
English and with Chinese captions).
"""

from __future__ import annotations

import numpy as np
import torch

from lmlab.multimodal.visual import cell_features


@torch.no_grad()
def matching_scores(model, images: np.ndarray, ids: np.ndarray, cell_size: int,
                    head: str = "itm", batch_size: int = 512) -> torch.Tensor:
    """(N images, N captions) -> (N, N): log p(match) of picture i with caption j, from
    ``model.heads[head]`` on the pooled output. ``ids`` (N, L) padded with 0."""
    model.eval()
    device = next(model.parameters()).device
    features = cell_features(torch.from_numpy(images), cell_size)  # (N, R, F)
    texts = torch.from_numpy(ids)
    count = len(images)
    pairs = torch.cartesian_prod(torch.arange(count), torch.arange(count))  # (N·N, 2)
    scores = torch.empty(count * count)
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        text = texts[chunk[:, 1]].to(device)
        output = model(text, (text != 0).long(), features[chunk[:, 0]].to(device))
        logits = model.heads[head](output.pooled)
        scores[start:start + len(chunk)] = torch.log_softmax(logits, -1)[:, 1].cpu()
    return scores.view(count, count)


def recall_at(scores: torch.Tensor, ks=(1, 5)) -> dict:
    """``scores`` (N, N) with the true pairs on the diagonal -> recall@k both ways. A true
    pair's rank counts the other candidates scored as high or higher (ties against it: a
    caption whose words are all unknown scores the same with every picture, and must not
    count as found)."""
    true = scores.diagonal()
    # per picture, the other captions at or above its own; per caption, the other pictures
    image_to_text = (scores >= true[:, None]).sum(1) - 1
    text_to_image = (scores >= true[None, :]).sum(0) - 1
    result = {}
    for k in ks:
        result[f"image_to_text_r{k}"] = float((image_to_text < k).float().mean())
        result[f"text_to_image_r{k}"] = float((text_to_image < k).float().mean())
    return result
