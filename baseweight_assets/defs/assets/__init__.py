"""Asset factories, one module per stage; each takes the PartitionSpace built from configs."""
