"""Private API Provisioner: the domain package shared by every Lambda function (the layer)."""
