"""Knowledge distillation (review §5.1.1): losses that read a teacher, students built from
a teacher, and the schedule of each method."""
