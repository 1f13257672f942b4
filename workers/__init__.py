"""Worker-process side of corral: the BullMQ consumer and the job processors.

Nothing here imports `pool/`: the supervisor knows the messages a worker sends, not the reverse.
"""
