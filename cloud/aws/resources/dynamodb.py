"""DynamoDB: the history table (on demand)."""


from cloud.aws.resources.base import Resource


class Table(Resource):
    """The feeding history: on-demand DynamoDB keyed by the projector's `key` (press#<id>, device#<thing>)."""

    kind = "dynamodb table"
    service = "dynamodb"
    KEY = [{"AttributeName": "key", "KeyType": "HASH"}]

    def read_existing(self):
        table = self.env.dynamodb.describe_table(TableName=self.name)["Table"]
        if table["TableStatus"] == "DELETING":
            # A destroy moments ago: the name is free only once the table is gone, then it is absent.
            self.env.dynamodb.get_waiter("table_not_exists").wait(TableName=self.name)
            return None
        billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        return {"billing": billing, "key": table["KeySchema"]}

    def desired(self):
        return {"billing": "PAY_PER_REQUEST", "key": self.KEY}

    def create(self):
        self.env.dynamodb.create_table(
            TableName=self.name,
            AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
            KeySchema=self.KEY,
            BillingMode="PAY_PER_REQUEST",
        )
        # CreateTable returns while the table is CREATING; the projector may write only once it is ACTIVE.
        self.env.dynamodb.get_waiter("table_exists").wait(TableName=self.name)

    def update(self, current):
        self.env.dynamodb.update_table(TableName=self.name, BillingMode="PAY_PER_REQUEST")

    def delete(self):
        self.env.dynamodb.delete_table(TableName=self.name)
