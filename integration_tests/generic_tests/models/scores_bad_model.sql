select * from {{ ref('scores_bad') }}
