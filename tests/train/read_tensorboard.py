"""Prints the scalars of a TensorBoard log directory as JSON,
{tag: [[step, value], ...]}, read by TensorBoard's own event loader.

Orphaned-data purging is off, so events repeated by a resumed run would
show up here rather than being hidden by the reader.
"""
import json
import sys

from tensorboard.backend.event_processing import event_accumulator

accumulator = event_accumulator.EventAccumulator(
    sys.argv[1], size_guidance={event_accumulator.SCALARS: 0}, purge_orphaned_data=False)
accumulator.Reload()
print(json.dumps({tag: [[e.step, e.value] for e in accumulator.Scalars(tag)]
                  for tag in accumulator.Tags()["scalars"]}))
