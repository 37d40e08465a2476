"""How many customers and how much of all revenue does each nation bring? (Python-authored)"""

from mesh_platform import ColumnSpec, ProductSpec, PythonStep, SqlStep

product = ProductSpec(
    domain="marketing",
    name="nation_reach",
    description="How many ordering customers, and what share of all revenue, per nation?",
    inputs={"customer_revenue": "sales.customer_revenue"},
    steps=(
        SqlStep(
            name="per_nation",
            sql="SELECT nation, count(*) AS customers, sum(revenue) AS revenue "
            "FROM customer_revenue GROUP BY nation",
        ),
        PythonStep(python="domains.marketing.steps:revenue_share"),
    ),
    columns=(
        ColumnSpec(name="nation", type="string", description="Nation of the customers"),
        ColumnSpec(name="customers", type="bigint", description="Ordering customers"),
        ColumnSpec(name="revenue", type="double", description="Their net revenue"),
        ColumnSpec(
            name="revenue_share_pct", type="double", description="Share of all revenue, in %"
        ),
    ),
    automation="eager",
)
