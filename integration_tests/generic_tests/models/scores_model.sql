select * from {{ ref('scores') }}
